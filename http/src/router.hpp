#pragma once
// The route table: {path pattern, verbs, handler}. A pattern is literal segments and {name} segments
// ("/api/export/{id}/status"); a match tells "no such path" (404) from "not with this verb" (405, with
// the Allow header's value). GET routes answer HEAD too. Pure: no I/O.

#include <ostream> // before Beast: its string_view needs it (Boost 1.81)

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

// The {name} segments' values of `path` when it fits `pattern`, in order; nullopt when it does not.
// One trailing slash on the path is ignored ("/api/export/" is "/api/export").
std::optional<std::vector<std::string_view>> match_pattern(std::string_view pattern, std::string_view path);

// "GET, HEAD, POST" for the verbs a path allows.
std::string allow_header(const std::vector<boost::beast::http::verb>& verbs);

template <class Handler> class router {
public:
    struct route {
        std::string pattern;
        std::vector<boost::beast::http::verb> verbs;
        Handler handler;
    };

    struct match {
        enum class outcome { found, not_found, method_not_allowed };
        outcome kind = outcome::not_found;
        const route* found = nullptr;           // with found
        std::vector<std::string_view> params;   // with found: the {name} values
        std::string pattern;                    // with found or method_not_allowed, for metrics
        std::string allow;                      // with method_not_allowed
    };

    void add(std::string pattern, std::vector<boost::beast::http::verb> verbs, Handler handler) {
        routes_.push_back({std::move(pattern), std::move(verbs), std::move(handler)});
    }

    match find(std::string_view path, boost::beast::http::verb method) const {
        using boost::beast::http::verb;
        match m;
        std::vector<verb> allowed;
        for (const auto& r : routes_) {
            auto params = match_pattern(r.pattern, path);
            if (!params)
                continue;
            for (verb v : r.verbs)
                if (v == method || (method == verb::head && v == verb::get)) {
                    m.kind = match::outcome::found;
                    m.found = &r;
                    m.params = std::move(*params);
                    m.pattern = r.pattern;
                    return m;
                }
            allowed.insert(allowed.end(), r.verbs.begin(), r.verbs.end());
            m.pattern = r.pattern;
        }
        if (!allowed.empty()) {
            m.kind = match::outcome::method_not_allowed;
            m.allow = allow_header(allowed);
        }
        return m;
    }

private:
    std::vector<route> routes_;
};

} // namespace pgexport::http
