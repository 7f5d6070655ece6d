// The acceptor: binds, accepts connections and starts a session for each (session.cpp). The parts:
// handle_request.cpp (checks and the route table), handlers.cpp (the API), download.cpp (Range, ETag,
// sendfile), metrics.cpp, auth.cpp, http_error.cpp (codes and statuses).

#include "context.hpp"
#include "handlers.hpp"
#include "link_signing.hpp"
#include "session.hpp"

#include <pgexport/http/server.hpp>
#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace pgexport::http {

struct server::impl {
    impl(asio::io_context& io, engine::export_engine& engine, server_config config)
        : ctx(std::make_shared<server_context>(io, engine, std::move(config))), acceptor(io) {}

    std::shared_ptr<server_context> ctx; // shared with the sessions, which may outlive the server object
    tcp::acceptor acceptor;
};

std::vector<std::pair<std::string, std::string>> owner_renames(const server_config& config) {
    std::vector<std::pair<std::string, std::string>> renames;
    if (config.secret.empty())
        return renames;
    for (const auto& key : config.api_keys)
        renames.emplace_back(legacy_owner_for_key(key), owner_for_key(config.secret, key));
    return renames;
}

asio::awaitable<void> async_rename_legacy_owners(engine::export_engine& engine, const server_config& config) {
    for (const auto& [from, to] : owner_renames(config)) {
        const auto renamed = co_await engine.async_rename_owner(from, to);
        if (!renamed)
            log_event("warning", "jobs_owner_rename_failed", {{"error", renamed.error().message}});
        else if (*renamed > 0)
            log_event("info", "jobs_owner_renamed", {{"count", *renamed}});
    }
}

server::server(asio::io_context& io, engine::export_engine& engine, server_config config)
    : impl_(std::make_shared<impl>(io, engine, std::move(config))) {
    // A notification's data is the job's status as GET status answers it (a signed downloadUrl with keys,
    // paths as a client sees them). The context lives as long as the engine keeps the function.
    engine.set_notification_data([ctx = impl_->ctx](const engine::job_info& job) {
        return handlers::status_json(*ctx, job);
    });
}

server::~server() = default;

void server::listen() {
    auto& a = impl_->acceptor;
    const auto& config = impl_->ctx->config;
    try {
        tcp::endpoint ep(asio::ip::make_address(config.host), config.port);
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        a.bind(ep);
        a.listen(asio::socket_base::max_listen_connections);
        impl_->ctx->listen_port = a.local_endpoint().port(); // the port of our own origin (guards.hpp)
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + config.host + ":" + std::to_string(config.port) + ": " +
                                 e.code().message());
    }
}

unsigned short server::port() const {
    return impl_->acceptor.local_endpoint().port();
}

asio::awaitable<void> server::async_run() {
    auto self = impl_;
    auto& ctx = *self->ctx;
    asio::steady_timer pause(ctx.io);
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open())
            co_return;
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
            ec == asio::error::no_memory) {
            // Out of descriptors: the pending connection stays in the backlog. Make room by closing the
            // longest-waiting idle connection, and pause instead of spinning on accept.
            log_event("warning", "http_accept_failed", {{"error", ec.message()}});
            ctx.connections.evict_oldest_waiting();
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (ec)
            continue;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(ctx.io, run_session(self->ctx, std::move(socket)),
                       [](std::exception_ptr e) { log_if_failed(e, "http_session_crashed"); });
    }
}

void server::stop() {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
}

asio::awaitable<void> server::async_drain(std::chrono::steady_clock::duration deadline) {
    auto self = impl_;
    auto& connections = self->ctx->connections;
    connections.begin_drain();
    const auto started = std::chrono::steady_clock::now();
    const std::size_t open_at_start = connections.size();
    asio::steady_timer tick(self->ctx->io);
    bool forced = false;
    while (connections.size() > 0) {
        const auto waited = std::chrono::steady_clock::now() - started;
        if (!forced && waited >= deadline) {
            log_event("warning", "http_drain_deadline", {{"open", connections.size()}});
            connections.close_all();
            forced = true;
        }
        if (forced && waited >= deadline + std::chrono::seconds(2))
            break; // a connection that ignores its cancel ends with the process

        tick.expires_after(std::chrono::milliseconds(20));
        boost::system::error_code ec;
        co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    log_event("info", "http_drained",
              {{"connections", open_at_start},
               {"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
}

} // namespace pgexport::http
