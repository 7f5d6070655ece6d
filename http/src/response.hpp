#pragma once
// What a handler answers: a Beast response; for a download the open file to send after the header, for an
// event stream the coroutine that writes the body as it goes.

#include <pgexport/shared/unique_fd.hpp>
#include "http_error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

using request_t = boost::beast::http::request<boost::beast::http::string_body>;
using string_response = boost::beast::http::response<boost::beast::http::string_body>;

using engine::detail::unique_fd;

// A slice of a file to send after the header.
struct file_body {
    unique_fd fd;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// Sends the pieces of a streamed body as they are made; each goes out at once.
class body_writer {
public:
    virtual ~body_writer() = default;
    // Throws boost::system::system_error when the client is gone or does not take the bytes in time.
    virtual boost::asio::awaitable<void> async_write(std::string data) = 0;
};

// A body of unknown length that a coroutine writes after the header (Server-Sent Events). It ends when the
// coroutine returns, or when the client disconnects: the coroutine is then cancelled at its next wait.
using body_stream = std::function<boost::asio::awaitable<void>(body_writer&)>;

struct reply {
    string_response response;
    std::string route = "other";     // the route's pattern, for metrics
    std::unique_ptr<file_body> file; // sent after the header when set (the response body is empty then)
    // Sent after the header when set: chunked (HTTP/1.1) or up to the close (HTTP/1.0); the connection
    // closes after it. The response body is empty then, and HEAD gets the header alone.
    body_stream stream{};
};

// A request header's value, or nullopt when absent.
std::optional<std::string_view> header_value(const request_t& req, boost::beast::http::field f);

// What every answer carries: X-Content-Type-Options: nosniff, and a Content-Security-Policy that lets
// nothing run or frame it unless the answer set its own (the page).
void set_security_headers(string_response& res);

string_response json_response(unsigned version, boost::beast::http::status status, const boost::json::value& body);
// The same with the JSON text already made (ending in a newline).
string_response json_text_response(unsigned version, boost::beast::http::status status, std::string body);
string_response error_response(unsigned version, http_errc code, std::string_view message);
string_response problem_response(unsigned version, const engine::problem& p);

} // namespace pgexport::http
