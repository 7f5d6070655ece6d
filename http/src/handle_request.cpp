#include "handle_request.hpp"

#include "handlers.hpp"
#include "router.hpp"
#include "static_files.hpp"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace pgexport::http {

namespace {

using handler_fn = asio::awaitable<reply> (*)(server_context&, const request_context&);
using bhttp::verb;

const router<handler_fn>& routes() {
    static const router<handler_fn> table = [] {
        router<handler_fn> r;
        r.add("/healthz", {verb::get}, handlers::healthz);
        r.add("/metrics", {verb::get}, handlers::metrics);
        r.add("/api/openapi.json", {verb::get}, handlers::openapi);
        r.add("/api/records", {verb::get}, handlers::records);
        r.add("/api/export", {verb::get}, handlers::list_exports);
        r.add("/api/export", {verb::post}, handlers::create_export);
        r.add("/api/export/{id}", {verb::delete_}, handlers::cancel_export);
        r.add("/api/export/{id}/status", {verb::get}, handlers::export_status);
        r.add("/api/export/{id}/download", {verb::get}, handlers::download_export);
        return r;
    }();
    return table;
}

reply static_file_reply(const request_t& req, std::string_view path) {
    reply r;
    auto file = find_static_file(path);
    if (!file) {
        r.response = error_response(req.version(), http_errc::not_found, "no such endpoint");
        return r;
    }
    r.route = "static";
    if (req.method() != verb::get && req.method() != verb::head) {
        r.response = error_response(req.version(), http_errc::method_not_allowed,
                                    std::string(req.method_string()) + " is not allowed here; use GET");
        r.response.set(bhttp::field::allow, "GET, HEAD");
        return r;
    }
    r.response = string_response(bhttp::status::ok, req.version());
    r.response.set(bhttp::field::content_type, file->content_type);
    r.response.set(bhttp::field::cache_control, "no-cache");
    r.response.body() = file->content;
    r.response.prepare_payload();
    return r;
}

} // namespace

asio::awaitable<reply> handle_request(server_context& ctx, const request_t& req, std::string peer_address) {
    const std::string_view target(req.target().data(), req.target().size());
    const auto qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const unsigned v = req.version();

    request_context rc{req, path, qmark == std::string_view::npos ? "" : target.substr(qmark + 1), {}, {},
                       std::move(peer_address)};
    if (path.starts_with("/api/")) {
        auto it = req.find(bhttp::field::authorization);
        rc.auth = ctx.auth.check(it == req.end() ? std::nullopt
                                                 : std::optional<std::string_view>(std::string_view(
                                                       it->value().data(), it->value().size())));
        if (rc.auth.kind == auth_result::outcome::denied) {
            reply r{error_response(v, http_errc::unauthorized,
                                   "this server needs an API key: send Authorization: Bearer <key>"),
                    "unauthorized", nullptr};
            r.response.set(bhttp::field::www_authenticate, "Bearer");
            co_return r;
        }
    }

    auto m = routes().find(path, req.method());
    if (m.kind == decltype(m)::outcome::not_found) {
        if (path.starts_with("/api/"))
            co_return reply{error_response(v, http_errc::not_found, "no such endpoint"), "other", nullptr};
        co_return static_file_reply(req, path);
    }
    if (m.kind == decltype(m)::outcome::method_not_allowed) {
        reply r{error_response(v, http_errc::method_not_allowed,
                               std::string(req.method_string()) + " is not allowed here; use " + m.allow),
                m.pattern, nullptr};
        r.response.set(bhttp::field::allow, m.allow);
        co_return r;
    }
    rc.params = std::move(m.params);
    reply r = co_await m.found->handler(ctx, rc);
    r.route = m.pattern;
    co_return r;
}

} // namespace pgexport::http
