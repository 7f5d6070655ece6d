#include "session.hpp"

#include "download.hpp"
#include "handle_request.hpp"
#include "query.hpp"
#include "streaming.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace pgexport::http {

// --- connection_registry --------------------------------------------------------------------------------

connection_registry::id connection_registry::add(std::string address, std::function<void()> close) {
    const id which = next_++;
    slots_.emplace(which, slot{std::move(address), true, std::chrono::steady_clock::now(), std::move(close)});
    return which;
}

void connection_registry::remove(id which) {
    slots_.erase(which);
}

void connection_registry::set_waiting(id which, bool waiting) {
    auto it = slots_.find(which);
    if (it == slots_.end())
        return;
    it->second.waiting = waiting;
    it->second.since = std::chrono::steady_clock::now();
}

std::size_t connection_registry::count(std::string_view address) const {
    std::size_t n = 0;
    for (const auto& [_, s] : slots_)
        n += s.address == address ? 1 : 0;
    return n;
}

bool connection_registry::evict_oldest_waiting(std::optional<std::string_view> address) {
    slot* oldest = nullptr;
    for (auto& [_, s] : slots_)
        if (s.waiting && (!address || s.address == *address) && (!oldest || s.since < oldest->since))
            oldest = &s;
    if (!oldest)
        return false;
    oldest->waiting = false; // it is going: never picked twice
    oldest->close();
    return true;
}

void connection_registry::begin_drain() {
    draining_ = true;
    while (evict_oldest_waiting()) {
    }
}

void connection_registry::close_all() {
    for (auto& [_, s] : slots_)
        s.close();
}

// --- the session --------------------------------------------------------------------------------------

namespace {

bool is_disconnect(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == asio::error::operation_aborted;
}

// The answer to a request Beast could not read (400, 413, 431); the connection closes after it.
string_response read_error_response(const server_config& config, const boost::system::error_code& ec) {
    if (ec == bhttp::error::body_limit)
        return error_response(11, http_errc::payload_too_large,
                              "the request body is larger than " + std::to_string(config.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit)
        return error_response(11, http_errc::header_too_large,
                              "the request headers are larger than " + std::to_string(config.max_header_bytes) +
                                  " bytes");
    return error_response(11, http_errc::bad_request, "malformed HTTP request: " + ec.message());
}

asio::awaitable<void> write_reply(beast::tcp_stream& stream, reply& r, bool head_only, const send_limits& limits) {
    if (r.stream) {
        co_await send_stream(stream, r, head_only, std::chrono::seconds(60));
        co_return;
    }
    stream.expires_after(std::chrono::seconds(60));
    if (!r.file && !head_only) {
        co_await bhttp::async_write(stream, r.response, asio::use_awaitable);
        co_return;
    }
    // The header from Beast; the body straight from the file, or none for HEAD (RFC 9110 9.3.2: the same
    // header as GET, Content-Length included).
    bhttp::response<bhttp::empty_body> header(r.response.base());
    header.content_length(r.file ? r.file->length : r.response.body().size());
    bhttp::response_serializer<bhttp::empty_body> serializer(header);
    co_await bhttp::async_write_header(stream, serializer, asio::use_awaitable);
    stream.expires_never();
    if (r.file && !head_only)
        co_await send_file(stream, *r.file, limits);
}

// Runs the handler; anything unexpected is a logged 500. (The database being away comes back from the
// engine as a problem, a 503 with Retry-After: problem_response.)
asio::awaitable<reply> answer(server_context& ctx, const request_t& req, client_info client) {
    try {
        co_return co_await handle_request(ctx, req, std::move(client));
    } catch (const std::exception& e) {
        log_event("error", "http_handler_failed",
                  {{"method", req.method_string()}, {"target", loggable_target(req.target())}, {"error", e.what()}});
        reply r;
        r.response = error_response(req.version(), http_errc::internal_error,
                                    "the server met an unexpected error; it has been logged");
        co_return r;
    }
}

void count(server_context& ctx, const std::string& route, unsigned code) {
    ++ctx.requests[{route, code}];
}

} // namespace

asio::awaitable<void> run_session(std::shared_ptr<server_context> ctx, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string address, peer;
    {
        boost::system::error_code ec;
        auto ep = stream.socket().remote_endpoint(ec);
        if (!ec) {
            // The address alone, an IPv4 client as such on a dual-stack socket (quotas and caps go by it).
            address = canonical(ep.address()).to_string();
            peer = address + ":" + std::to_string(ep.port());
        }
    }
    const send_limits limits{ctx->config.read_timeout, ctx->config.min_download_rate, ctx->config.read_timeout};
    // Room for this connection: a full server closes its longest-waiting connection for it, else says no.
    // A trusted proxy carries every client behind it: it is held to the server's cap only.
    const auto& config = ctx->config;
    bool admitted = (ctx->connections.size() < config.max_connections || ctx->connections.evict_oldest_waiting()) &&
                    (ctx->proxies.trusts(address) ||
                     ctx->connections.count(address) < config.max_connections_per_address ||
                     ctx->connections.evict_oldest_waiting(address));
    const auto slot = ctx->connections.add(address, [&stream] {
        boost::system::error_code ignored;
        stream.socket().cancel(ignored);
    });
    struct release {
        server_context& ctx;
        connection_registry::id slot;
        ~release() { ctx.connections.remove(slot); }
    } guard{*ctx, slot};
    try {
        if (!admitted) {
            ctx->connections.set_waiting(slot, false);
            auto res = error_response(11, http_errc::too_many_connections,
                                      "the server has too many open connections; try again shortly");
            set_security_headers(res);
            res.keep_alive(false);
            stream.expires_after(std::chrono::seconds(5));
            count(*ctx, "overload", 503);
            co_await bhttp::async_write(stream, res, asio::use_awaitable);
            co_return;
        }
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(config.max_body_bytes);
            parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
            if (ctx->connections.draining())
                break; // shutting down: no further request on this connection
            stream.expires_after(config.read_timeout);
            ctx->connections.set_waiting(slot, true);
            boost::system::error_code ec;
            co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            ctx->connections.set_waiting(slot, false);
            // A Transfer-Encoding that does not end in chunked leaves the body's length unknown (RFC 9112
            // 6.3: answer 400 and close). Beast reads such a request as bodiless: it would be served, and
            // its body taken for the next request.
            if (!ec && parser.get().find(bhttp::field::transfer_encoding) != parser.get().end() && !parser.chunked())
                ec = bhttp::error::bad_transfer_encoding;
            if (ec) {
                if (is_disconnect(ec))
                    break;
                auto res = read_error_response(config, ec);
                set_security_headers(res);
                res.keep_alive(false);
                const unsigned status = res.result_int();
                count(*ctx, "malformed", status);
                log_event("info", "http_request", {{"peer", peer}, {"status", status}, {"error", ec.message()}});
                stream.expires_after(std::chrono::seconds(5));
                co_await bhttp::async_write(stream, res, asio::use_awaitable);
                break;
            }
            stream.expires_never();
            const auto start = std::chrono::steady_clock::now();
            auto req = parser.release();
            client_info client = identify_client(*ctx, address, req);
            const std::string client_address = client.address;
            reply r = co_await answer(*ctx, req, std::move(client));
            set_security_headers(r.response);
            r.response.keep_alive(req.keep_alive() && !ctx->connections.draining());
            const unsigned status = r.response.result_int();
            count(*ctx, r.route, status);
            co_await write_reply(stream, r, req.method() == bhttp::verb::head, limits);
            log_event("info", "http_request",
                      {{"peer", peer},
                       {"client", client_address},
                       {"method", req.method_string()},
                       {"target", loggable_target(req.target())},
                       {"status", status},
                       {"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                                  .count()}});
            if (!r.response.keep_alive())
                break;
        }
    } catch (const boost::system::system_error&) {
        // The client went away, timed out or read too slowly: nothing to answer.
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

} // namespace pgexport::http
