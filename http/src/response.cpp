#include "response.hpp"

#include <boost/json/serialize.hpp>

#include <unistd.h>

namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace pgexport::http {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

unique_fd::~unique_fd() {
    if (fd_ >= 0)
        ::close(fd_);
}

std::optional<std::string_view> header_value(const request_t& req, bhttp::field f) {
    auto it = req.find(f);
    if (it == req.end())
        return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
}

string_response json_response(unsigned version, bhttp::status status, const json::value& body) {
    std::string text = json::serialize(body);
    text += '\n';
    return json_text_response(version, status, std::move(text));
}

string_response json_text_response(unsigned version, bhttp::status status, std::string body) {
    string_response res(status, version);
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

string_response error_response(unsigned version, http_errc code, std::string_view message) {
    return json_response(version, status_for(code), error_json(to_string(code), message));
}

string_response problem_response(unsigned version, const engine::problem& p) {
    string_response r = json_response(version, status_for(p.code), error_json(engine::to_string(p.code), p.message));
    // The database (or the server's start) is away for now: the one place a 503 says when to come back.
    if (p.code == engine::errc::unavailable)
        r.set(boost::beast::http::field::retry_after, "5");
    return r;
}

} // namespace pgexport::http
