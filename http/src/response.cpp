#include "response.hpp"

#include <boost/json/serialize.hpp>


namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace pgexport::http {

std::optional<std::string_view> header_value(const request_t& req, bhttp::field f) {
    auto it = req.find(f);
    if (it == req.end())
        return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
}

void set_security_headers(string_response& res) {
    res.set("X-Content-Type-Options", "nosniff");
    if (res.find("Content-Security-Policy") == res.end())
        res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
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
    auto res = json_response(version, status_for(p.code), error_json(engine::to_string(p.code), p.message));
    if (p.code == engine::errc::unavailable) // the database away, the listings busy: come back shortly
        res.set(boost::beast::http::field::retry_after, "5");
    return res;
}

} // namespace pgexport::http
