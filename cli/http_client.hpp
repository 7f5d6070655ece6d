#pragma once
// The `export` client's HTTP: http:// and https:// (Boost.Beast over OpenSSL, verified against the
// system's CA store: SSL_CERT_FILE and SSL_CERT_DIR as OpenSSL reads them), one request per connection,
// every wait bounded, and redirects followed without the API key beyond the server's own origin (a
// download from an S3-backed server is a 302 to a presigned URL of the object store).

#include "sse_parser.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgexport::cli {

// A failure the user should read; `code` is the exit code.
struct client_error : std::runtime_error {
    explicit client_error(std::string message, int c = 1) : std::runtime_error(std::move(message)), code(c) {}
    int code;
};

struct http_url {
    std::string scheme; // "http" or "https"
    std::string host;   // a name or an address (IPv6 without brackets)
    std::string port;   // the URL's, else the scheme's default
    std::string target; // the path and query as written ("" when none)

    friend bool operator==(const http_url&, const http_url&) = default;
};

// "http[s]://host[:port][/path][?query]" (a fragment is dropped); nullopt for another scheme, user info,
// an empty host, a bad port or an unbracketed IPv6 address. Pure.
std::optional<http_url> parse_http_url(std::string_view text);

// The Host header for `url`: an IPv6 address in brackets, the port unless it is the scheme's default.
std::string host_header(const http_url& url);

// Scheme, host and port alike (the API key goes only where this holds with the server's URL).
bool same_origin(const http_url& a, const http_url& b);

// Where a redirect from `base` points: an absolute http(s) URL, or a path on base's origin; nullopt for
// anything else.
std::optional<http_url> resolve_location(const http_url& base, std::string_view location);

using header_list = std::vector<std::pair<boost::beast::http::field, std::string>>;

// A response whose body is read as it comes. Throws client_error when the connection fails.
class http_response {
public:
    struct impl;
    explicit http_response(std::unique_ptr<impl> p);
    ~http_response();

    unsigned status() const;
    std::optional<std::string> header(boost::beast::http::field f) const;
    // Up to `size` bytes of the body; 0 once it has all been read.
    std::size_t read_some(char* data, std::size_t size);
    // The body, or its first `limit` bytes.
    std::string read_body(std::size_t limit);
    // Waits until the body has more to read (true), or until a signal arrives or `timeout` passes
    // (false; after the timeout the connection is shut down, so that the next read ends).
    bool wait_readable(std::chrono::milliseconds timeout);

private:
    std::unique_ptr<impl> impl_;
};

class http_client {
public:
    // `server`: the server's URL, its target the base path (no trailing '/'). `api_key` is sent to it.
    http_client(http_url server, std::optional<std::string> api_key);
    ~http_client();

    const http_url& server() const { return server_; }

    // One request to the server's base path + `path`: status and body (a JSON body when `body` is set).
    std::pair<unsigned, std::string> call(boost::beast::http::verb method, const std::string& path,
                                          const std::string& body = "");

    // GET of the server's base path + `path` with `headers`, following up to 5 redirects to http(s) URLs.
    // The API key goes to the server's own origin only; `headers` go everywhere. Returns the final
    // response with its body unread.
    std::unique_ptr<http_response> get(const std::string& path, const header_list& headers);

    // Follows the text/event-stream at `path`, handing each event to `on_event`, until on_event returns
    // false, the stream ends or breaks, or a signal arrives. Nothing is read when the server does not answer
    // 200 (a server without events: 404 or 405). Exceptions from on_event pass through.
    void follow_events(const std::string& path, const std::function<bool(const sse_message&)>& on_event);

private:
    struct tls;
    http_url server_;
    std::optional<std::string> key_;
    std::unique_ptr<tls> tls_; // made at the first https:// connection
};

} // namespace pgexport::cli
