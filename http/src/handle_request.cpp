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

// A request's header values joined by commas, as one header would be (RFC 9110 5.3).
std::string joined(const request_t& req, std::string_view name) {
    std::string out;
    for (auto [it, end] = req.equal_range(name); it != end; ++it) {
        if (!out.empty())
            out += ',';
        out.append(it->value().data(), it->value().size());
    }
    return out;
}

reply refused(unsigned v, http_errc code, std::string message, const char* route) {
    return reply{error_response(v, code, message), route, nullptr};
}

// DNS rebinding: only our own names are served (guards.hpp). The probes hold no data and must answer
// whatever name a load balancer uses.
std::optional<reply> refuse_foreign_host(const server_context& ctx, const request_t& req, std::string_view path) {
    const bool probe = path == "/healthz" || path == "/metrics";
    const auto host = header_value(req, bhttp::field::host);
    if (probe || ctx.origins.hosts().host_allowed(host))
        return std::nullopt;
    return refused(req.version(), http_errc::misdirected_request,
                   "this server does not answer to the host name \"" + std::string(host.value_or("")) +
                       "\"; start it with --allowed-host NAME to serve that name",
                   "misdirected");
}

// Who may call the API: a key when keys are configured. Without keys the API is meant for clients on this
// machine: a request that a proxy forwarded is refused unless --no-auth says something in front
// authenticates. Runs before the other checks, so that an anonymous caller learns nothing else.
std::optional<reply> refuse_anonymous(const server_context& ctx, const request_context& rc) {
    const unsigned v = rc.req.version();
    if (rc.auth.kind == auth_result::outcome::denied && !rc.link) {
        reply r = refused(v, http_errc::unauthorized, "this server needs an API key: send Authorization: Bearer <key>",
                          "unauthorized");
        r.response.set(bhttp::field::www_authenticate, "Bearer");
        return r;
    }
    if (!ctx.auth.keys_configured() && !ctx.config.no_auth && rc.client.proxied)
        return refused(v, http_errc::unauthorized,
                       "this server has no API keys and serves clients on its own machine only, but this request "
                       "came through a proxy; configure API keys (--api-key-file), or start it with --no-auth "
                       "when the proxy authenticates",
                       "unauthorized");
    return std::nullopt;
}

// CSRF: a state-changing request must come from this server's own page or an --allowed-origin, and a POST
// must be JSON, which a form or a "simple" fetch cannot send without a preflight.
std::optional<reply> refuse_cross_site(const server_context& ctx, const request_context& rc) {
    const request_t& req = rc.req;
    const unsigned v = req.version();
    const auto origin = header_value(req, bhttp::field::origin);
    if (changes_state(req.method()) &&
        !ctx.origins.allowed(origin, header_value(req, bhttp::field::host), rc.client.scheme, ctx.listen_port))
        return refused(v, http_errc::forbidden_origin,
                       "requests from the web page at " + std::string(origin.value_or("")) +
                           " may not change anything here; only this server's own page may (or an origin "
                           "given with --allowed-origin)",
                       "forbidden_origin");
    if (req.method() == verb::post) {
        const auto type = header_value(req, bhttp::field::content_type);
        if ((type || !req.body().empty()) && !is_json_content_type(type))
            return refused(v, http_errc::unsupported_media_type,
                           "the request body must be JSON, sent with Content-Type: application/json",
                           "unsupported_media_type");
    }
    return std::nullopt;
}

reply static_file_reply(const server_context& ctx, const request_t& req, std::string_view path) {
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
    // The page may not be framed (clickjacking) nor run anything but its own script.
    r.response.set("Content-Security-Policy", ctx.page_csp);
    r.response.set("X-Frame-Options", "DENY");
    r.response.body() = file->content;
    r.response.prepare_payload();
    return r;
}

} // namespace

client_info identify_client(const server_context& ctx, std::string_view peer, const request_t& req) {
    client_info c;
    const std::string forwarded_for = joined(req, "X-Forwarded-For");
    c.proxied = !forwarded_for.empty() || req.find(bhttp::field::forwarded) != req.end();
    c.address = ctx.proxies.client(peer, forwarded_for);
    const std::string proto = joined(req, "X-Forwarded-Proto");
    c.scheme = ctx.proxies.scheme(peer, proto.empty() ? std::nullopt : std::optional<std::string_view>(proto));
    return c;
}

asio::awaitable<reply> handle_request(server_context& ctx, const request_t& req, client_info client) {
    const std::string_view target(req.target().data(), req.target().size());
    const auto qmark = target.find('?');
    const std::string_view path = target.substr(0, qmark);
    const unsigned v = req.version();

    if (auto r = refuse_foreign_host(ctx, req, path))
        co_return std::move(*r);
    request_context rc{req, path, qmark == std::string_view::npos ? "" : target.substr(qmark + 1), {}, {},
                       std::move(client), std::nullopt};
    if (path.starts_with("/api/")) {
        rc.auth = ctx.auth.check(header_value(req, bhttp::field::authorization));
        // A signed link (?expires=&signature=) stands in for the key on a download; checked there.
        if (ctx.auth.keys_configured() && download_path_id(path))
            rc.link = find_download_link(rc.query);
        if (auto r = refuse_anonymous(ctx, rc))
            co_return std::move(*r);
    }
    if (auto r = refuse_cross_site(ctx, rc))
        co_return std::move(*r);

    auto m = routes().find(path, req.method());
    if (m.kind == decltype(m)::outcome::not_found) {
        if (path.starts_with("/api/"))
            co_return reply{error_response(v, http_errc::not_found, "no such endpoint"), "other", nullptr};
        co_return static_file_reply(ctx, req, path);
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
