#include "streaming.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace asio::experimental::awaitable_operators;

namespace pgexport::http {

namespace {

class socket_writer final : public body_writer {
public:
    socket_writer(beast::tcp_stream& stream, bool chunked, std::chrono::steady_clock::duration timeout)
        : stream_(stream), chunked_(chunked), timeout_(timeout) {}

    asio::awaitable<void> async_write(std::string data) override {
        if (data.empty())
            co_return; // an empty chunk would end the body
        stream_.expires_after(timeout_);
        if (chunked_)
            co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(data)), asio::use_awaitable);
        else
            co_await asio::async_write(stream_, asio::buffer(data), asio::use_awaitable);
    }

    // The end of the body: the last chunk (HTTP/1.0 ends it by closing).
    asio::awaitable<void> async_finish() {
        if (!chunked_)
            co_return;
        stream_.expires_after(timeout_);
        co_await asio::async_write(stream_, bhttp::make_chunk_last(), asio::use_awaitable);
    }

private:
    beast::tcp_stream& stream_;
    bool chunked_;
    std::chrono::steady_clock::duration timeout_;
};

// Returns when the client closes its side (or the connection fails). Whatever it sends meanwhile is
// dropped: nothing can be answered on this connection before the stream ends.
asio::awaitable<void> until_closed(asio::ip::tcp::socket& socket) {
    std::array<char, 512> discard{};
    for (;;) {
        boost::system::error_code ec;
        co_await socket.async_read_some(asio::buffer(discard), asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
            co_return;
    }
}

} // namespace

asio::awaitable<void> send_stream(beast::tcp_stream& stream, reply& r, bool head_only,
                                  std::chrono::steady_clock::duration write_timeout) {
    const bool chunked = r.response.version() >= 11;
    r.response.keep_alive(false);
    bhttp::response<bhttp::empty_body> header(r.response.base());
    header.chunked(chunked);
    bhttp::response_serializer<bhttp::empty_body> serializer(header);
    stream.expires_after(write_timeout);
    co_await bhttp::async_write_header(stream, serializer, asio::use_awaitable);
    if (head_only)
        co_return;
    socket_writer writer(stream, chunked, write_timeout);
    // Whichever ends first cancels the other: a client gone cancels the stream's coroutine at its wait.
    auto ended = co_await (r.stream(writer) || until_closed(stream.socket()));
    if (ended.index() == 0)
        co_await writer.async_finish();
}

} // namespace pgexport::http
