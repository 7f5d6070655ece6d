#include "handle_request.hpp"

#include "events.hpp"
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
        r.add("/api/schema", {verb::get}, handlers::table_schema);
        r.add("/api/export", {verb::get}, handlers::list_exports);
        r.add("/api/export", {verb::post}, handlers::create_export);
        r.add("/api/export/{id}", {verb::delete_}, handlers::delete_export);
        r.add("/api/export/{id}/status", {verb::get}, handlers::export_status);
        r.add("/api/export/{id}/download", {verb::get}, handlers::download_export);
        r.add("/api/export/{id}/events", {verb::get}, handlers::export_events);
        return r;
    }();
    return table;
}

bool changes_state(verb method) {
    return method != verb::get && method != verb::head && method != verb::options;
}

// The browser-borne attacks (guards.hpp); nullopt when the request may go on.
std::optional<reply> refuse_hostile(const server_context& ctx, const request_t& req, std::string_view path) {
    const unsigned v = req.version();
    // The probes hold no data and must answer whatever name a load balancer uses.
    const bool probe = path == "/healthz" || path == "/metrics";
    if (!probe && !ctx.hosts.host_allowed(header_value(req, bhttp::field::host)))
        return reply{error_response(v, http_errc::misdirected_request,
                                    "this server does not answer to the host name \"" +
                                        std::string(header_value(req, bhttp::field::host).value_or("")) +
                                        "\"; start it with --allowed-host NAME to serve that name"),
                     "misdirected", nullptr};
    if (changes_state(req.method()) && !ctx.hosts.origin_allowed(header_value(req, bhttp::field::origin)))
        return reply{error_response(v, http_errc::forbidden_origin,
                                    "requests from the web page at " +
                                        std::string(header_value(req, bhttp::field::origin).value_or("")) +
                                        " may not change anything here; only this server's own page may"),
                     "forbidden_origin", nullptr};
    if (req.method() == verb::post) {
        const auto type = header_value(req, bhttp::field::content_type);
        if ((type || !req.body().empty()) && !is_json_content_type(type))
            return reply{error_response(v, http_errc::unsupported_media_type,
                                        "the request body must be JSON, sent with Content-Type: application/json"),
                         "unsupported_media_type", nullptr};
    }
    return std::nullopt;
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

    if (auto refused = refuse_hostile(ctx, req, path))
        co_return std::move(*refused);

    request_context rc{req, path, qmark == std::string_view::npos ? "" : target.substr(qmark + 1), {}, {},
                       std::move(peer_address), std::nullopt};
    if (path.starts_with("/api/")) {
        rc.auth = ctx.auth.check(header_value(req, bhttp::field::authorization));
        // A signed link (?expires=&signature=) stands in for the key on a download; checked there.
        if (ctx.auth.keys_configured() && download_path_id(path))
            rc.link = find_download_link(rc.query);
        if (rc.auth.kind == auth_result::outcome::denied && !rc.link) {
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
