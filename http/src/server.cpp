#include <pgexport/http/server.hpp>
#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace pgexport::http {

namespace {

using string_response = bhttp::response<bhttp::string_body>;

string_response json_response(unsigned version, bhttp::status status, const json::value& body) {
    string_response res(status, version);
    res.set(bhttp::field::content_type, "application/json");
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
}

string_response error_response(unsigned version, bhttp::status status, std::string_view code,
                               std::string_view message) {
    return json_response(version, status, json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

} // namespace

struct server::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& io, engine::export_engine& e, server_config c)
        : io(io), engine(e), config(std::move(c)), acceptor(io) {}

    asio::awaitable<string_response> handle(const bhttp::request<bhttp::string_body>& req) {
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (path == "/healthz") {
            const bool ok = co_await engine.async_ping();
            co_return json_response(req.version(), ok ? bhttp::status::ok : bhttp::status::service_unavailable,
                                    json::object{{"status", ok ? "ok" : "unavailable"}});
        }
        co_return error_response(req.version(), bhttp::status::not_found, "not_found", "no such endpoint");
    }

    asio::awaitable<void> session(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        try {
            for (;;) {
                bhttp::request_parser<bhttp::string_body> parser;
                parser.body_limit(config.max_body_bytes);
                parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
                stream.expires_after(config.read_timeout);
                co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
                auto req = parser.release();
                string_response res = co_await handle(req);
                res.keep_alive(req.keep_alive());
                stream.expires_never();
                co_await bhttp::async_write(stream, res, asio::use_awaitable);
                if (!res.keep_alive())
                    break;
            }
        } catch (const boost::system::system_error&) {
        }
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    asio::io_context& io;
    engine::export_engine& engine;
    server_config config;
    tcp::acceptor acceptor;
};

server::server(asio::io_context& io, engine::export_engine& engine, server_config config)
    : impl_(std::make_shared<impl>(io, engine, std::move(config))) {}

server::~server() = default;

void server::listen() {
    auto& a = impl_->acceptor;
    try {
        tcp::endpoint ep(asio::ip::make_address(impl_->config.host), impl_->config.port);
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        a.bind(ep);
        a.listen();
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + impl_->config.host + ":" + std::to_string(impl_->config.port) +
                                 ": " + e.code().message());
    }
}

unsigned short server::port() const { return impl_->acceptor.local_endpoint().port(); }

asio::awaitable<void> server::async_run() {
    auto self = impl_;
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open())
            co_return;
        if (ec)
            continue;
        asio::co_spawn(self->io, self->session(std::move(socket)), asio::detached);
    }
}

void server::stop() {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
}

} // namespace pgexport::http
