#pragma once
// What a handler answers: a Beast response, and for a download the open file to send after the header.

#include "http_error.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

using request_t = boost::beast::http::request<boost::beast::http::string_body>;
using string_response = boost::beast::http::response<boost::beast::http::string_body>;

// A file descriptor closed when it goes out of scope.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// A slice of a file to send after the header.
struct file_body {
    unique_fd fd;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct reply {
    string_response response;
    std::string route = "other";     // the route's pattern, for metrics
    std::unique_ptr<file_body> file; // sent after the header when set (the response body is empty then)
};

// A request header's value, or nullopt when absent.
std::optional<std::string_view> header_value(const request_t& req, boost::beast::http::field f);

string_response json_response(unsigned version, boost::beast::http::status status, const boost::json::value& body);
string_response error_response(unsigned version, http_errc code, std::string_view message);
string_response problem_response(unsigned version, const engine::problem& p);

} // namespace pgexport::http
