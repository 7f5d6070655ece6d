#include "router.hpp"

#include <algorithm>

namespace bhttp = boost::beast::http;

namespace pgexport::http {

std::optional<std::vector<std::string_view>> match_pattern(std::string_view pattern, std::string_view path) {
    if (path.size() > 1 && path.ends_with('/'))
        path.remove_suffix(1);
    std::vector<std::string_view> params;
    for (;;) {
        const auto pn = pattern.find('/', 1);
        const auto sn = path.find('/', 1);
        const std::string_view p = pattern.substr(0, pn);
        const std::string_view s = path.substr(0, sn);
        if (p.starts_with("/{") && p.ends_with('}')) {
            if (s.size() < 2) // a parameter is never empty
                return std::nullopt;
            params.push_back(s.substr(1));
        } else if (p != s) {
            return std::nullopt;
        }
        if (pn == std::string_view::npos || sn == std::string_view::npos) {
            if (pn != sn)
                return std::nullopt;
            return params;
        }
        pattern.remove_prefix(pn);
        path.remove_prefix(sn);
    }
}

std::string allow_header(const std::vector<bhttp::verb>& verbs) {
    std::vector<bhttp::verb> all = verbs;
    if (std::find(all.begin(), all.end(), bhttp::verb::get) != all.end() &&
        std::find(all.begin(), all.end(), bhttp::verb::head) == all.end())
        all.push_back(bhttp::verb::head);
    std::vector<std::string> names;
    for (auto v : all)
        names.emplace_back(bhttp::to_string(v));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string out;
    for (const auto& n : names) {
        if (!out.empty())
            out += ", ";
        out += n;
    }
    return out;
}

} // namespace pgexport::http
