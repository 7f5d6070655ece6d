#include "http_client.hpp"

#include "interrupt.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <poll.h>
#include <sys/socket.h>

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace pgexport::cli {

// --- URLs ------------------------------------------------------------------------------------------------

namespace {

std::string default_port(std::string_view scheme) {
    return scheme == "https" ? "443" : "80";
}

bool is_ip_address(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

} // namespace

std::optional<http_url> parse_http_url(std::string_view text) {
    http_url u;
    if (text.starts_with("http://"))
        u.scheme = "http";
    else if (text.starts_with("https://"))
        u.scheme = "https";
    else
        return std::nullopt;
    text.remove_prefix(u.scheme.size() + 3);
    text = text.substr(0, text.find('#'));
    const auto path_at = text.find_first_of("/?");
    const std::string_view authority = text.substr(0, path_at);
    u.target = path_at == std::string_view::npos ? "" : std::string(text.substr(path_at));
    if (!u.target.empty() && u.target.front() == '?')
        u.target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos)
        return std::nullopt; // user info: a URL that says one host and means another
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = authority.substr(1, close - 1);
        const auto rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            return std::nullopt;
        port = rest.empty() ? std::string_view{} : rest.substr(1);
        boost::system::error_code ec;
        asio::ip::make_address_v6(std::string(host), ec);
        if (ec)
            return std::nullopt;
    } else {
        const auto colon = authority.find(':');
        if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos)
            return std::nullopt; // an IPv6 address needs its brackets
        host = authority.substr(0, colon);
        port = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1);
        if (colon != std::string_view::npos && port.empty())
            return std::nullopt;
    }
    if (host.empty())
        return std::nullopt;
    u.host = std::string(host);
    if (port.empty()) {
        u.port = default_port(u.scheme);
    } else {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        const int n = std::stoi(std::string(port));
        if (n < 1 || n > 65535)
            return std::nullopt;
        u.port = std::to_string(n);
    }
    return u;
}

std::string host_header(const http_url& url) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != default_port(url.scheme))
        host += ":" + url.port;
    return host;
}

bool same_origin(const http_url& a, const http_url& b) {
    auto lower = [](std::string s) {
        for (char& c : s)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    return a.scheme == b.scheme && lower(a.host) == lower(b.host) && a.port == b.port;
}

std::optional<http_url> resolve_location(const http_url& base, std::string_view location) {
    if (location.starts_with("http://") || location.starts_with("https://"))
        return parse_http_url(location);
    if (!location.starts_with('/') || location.starts_with("//"))
        return std::nullopt;
    http_url u = base;
    u.target = std::string(location.substr(0, location.find('#')));
    return u;
}

// --- connections -----------------------------------------------------------------------------------------

struct http_client::tls {
    ssl::context context{ssl::context::tls_client};
    tls() {
        context.set_default_verify_paths(); // the system's CA store (and SSL_CERT_FILE, SSL_CERT_DIR)
        context.set_verify_mode(ssl::verify_peer);
        context.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
    }
};

namespace {

constexpr int io_timeout_seconds = 30; // a silent server must not hang the client

// One connection, plain or TLS.
class connection {
public:
    connection(asio::io_context& io, const http_url& url, ssl::context* tls) : url_(url) {
        tcp::resolver resolver(io);
        beast::error_code ec;
        auto endpoints = resolver.resolve(url.host, url.port, ec);
        if (ec)
            throw client_error("cannot resolve " + url.host + ": " + ec.message());
        tcp::socket socket(io);
        asio::connect(socket, endpoints, ec);
        if (ec)
            throw client_error("cannot connect to " + host_header(url) + ": " + ec.message());
        timeval tv{io_timeout_seconds, 0};
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (url.scheme != "https") {
            plain_.emplace(std::move(socket));
            return;
        }
        tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket), *tls);
        // The certificate must name the host we asked for; SNI tells a shared server which one that is.
        if (!is_ip_address(url.host))
            SSL_set_tlsext_host_name(tls_->native_handle(), url.host.c_str());
        tls_->set_verify_callback(ssl::host_name_verification(url.host));
        tls_->handshake(ssl::stream_base::client, ec);
        if (ec)
            throw client_error("cannot set up TLS with " + host_header(url) + ": " + describe(ec));
    }

    template <class F> decltype(auto) with_stream(F&& f) {
        if (tls_)
            return f(*tls_);
        return f(*plain_);
    }

    tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

    // Bytes that TLS has already decrypted but not handed out: readable without the socket being so.
    bool pending() { return tls_ && SSL_pending(tls_->native_handle()) > 0; }

    const http_url& url() const { return url_; }

    static std::string describe(const beast::error_code& ec) {
        std::string text = ec.message();
        if (ec.category() == asio::error::get_ssl_category()) {
            // OpenSSL's reason says more than "handshake failure": an unknown CA, a name mismatch.
            if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value())))
                text = reason;
        }
        return text;
    }

private:
    http_url url_;
    std::optional<tcp::socket> plain_;
    std::unique_ptr<ssl::stream<tcp::socket>> tls_;
};

// A closed TLS connection without close_notify ends the body like EOF does when the body runs to the
// end of the connection; Beast says which it was.
bool is_end(const beast::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

template <class Request> void prepare(Request& req, const http_url& url, const std::optional<std::string>& key) {
    req.set(bhttp::field::host, host_header(url));
    req.set(bhttp::field::user_agent, "pgexport-export");
    if (key)
        req.set(bhttp::field::authorization, "Bearer " + *key);
}

} // namespace

// --- responses -------------------------------------------------------------------------------------------

struct http_response::impl {
    asio::io_context io;
    std::unique_ptr<connection> conn;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    std::optional<std::string> broken; // why the connection broke, told at the next read
};

http_response::http_response(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_response::~http_response() = default;

unsigned http_response::status() const {
    return impl_->parser.get().result_int();
}

std::optional<std::string> http_response::header(bhttp::field f) const {
    const auto& h = impl_->parser.get();
    auto it = h.find(f);
    if (it == h.end())
        return std::nullopt;
    return std::string(it->value());
}

std::size_t http_response::read_some(char* data, std::size_t size) {
    auto& p = impl_->parser;
    if (impl_->broken)
        throw client_error(*impl_->broken);
    while (!p.is_done()) {
        p.get().body().data = data;
        p.get().body().size = size;
        beast::error_code ec;
        impl_->conn->with_stream([&](auto& s) { bhttp::read_some(s, impl_->buffer, p, ec); });
        if (ec == bhttp::error::need_buffer)
            ec = {};
        const std::size_t n = size - p.get().body().size;
        if (ec && !(is_end(ec) && p.is_done())) {
            impl_->broken = "the connection to " + host_header(impl_->conn->url()) + " broke: " + ec.message();
            if (n == 0)
                throw client_error(*impl_->broken);
        }
        if (n > 0)
            return n; // bytes that came before a break are the caller's: the break is told at the next read
        // A chunk's header and nothing of the body yet: read on.
    }
    return 0;
}

std::string http_response::read_body(std::size_t limit) {
    std::string body;
    std::array<char, 16384> chunk{};
    try {
        while (body.size() < limit) {
            const std::size_t n = read_some(chunk.data(), chunk.size());
            if (n == 0)
                break;
            body.append(chunk.data(), std::min(n, limit - body.size()));
        }
    } catch (const client_error&) {
        // What arrived is enough for a message.
    }
    return body;
}

bool http_response::wait_readable(std::chrono::milliseconds timeout) {
    if (impl_->buffer.size() > 0 || impl_->conn->pending())
        return true;
    auto& socket = impl_->conn->socket();
    pollfd fds[2] = {{socket.native_handle(), POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
    const int n = ::poll(fds, interrupt_fd() >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return true;
    if (n == 0) {
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
    return false;
}

// --- the client ------------------------------------------------------------------------------------------

http_client::http_client(http_url server, std::optional<std::string> api_key)
    : server_(std::move(server)), key_(std::move(api_key)) {
    while (!server_.target.empty() && server_.target.back() == '/')
        server_.target.pop_back();
}

http_client::~http_client() = default;

std::pair<unsigned, std::string> http_client::call(bhttp::verb method, const std::string& path, const std::string& body) {
    asio::io_context io;
    if (server_.scheme == "https" && !tls_)
        tls_ = std::make_unique<tls>();
    connection conn(io, server_, tls_ ? &tls_->context : nullptr);
    bhttp::request<bhttp::string_body> req(method, server_.target + path, 11);
    prepare(req, server_, key_);
    if (!body.empty()) {
        req.set(bhttp::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    beast::error_code ec;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    conn.with_stream([&](auto& s) {
        bhttp::write(s, req, ec);
        if (!ec)
            bhttp::read(s, buffer, parser, ec);
    });
    if (ec && !(is_end(ec) && parser.is_done()))
        throw client_error("cannot talk to " + host_header(server_) + ": " + ec.message());
    auto res = parser.release();
    return {res.result_int(), res.body()};
}

std::unique_ptr<http_response> http_client::get(const std::string& path, const header_list& headers) {
    http_url url = server_;
    url.target = server_.target + path;
    for (int hop = 0;; ++hop) {
        auto r = std::make_unique<http_response::impl>();
        if (url.scheme == "https" && !tls_)
            tls_ = std::make_unique<tls>();
        r->conn = std::make_unique<connection>(r->io, url, tls_ ? &tls_->context : nullptr);
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, url.target.empty() ? "/" : url.target, 11);
        // The key is the server's: a presigned URL of the object store, or anywhere else a redirect
        // points, never sees it.
        prepare(req, url, same_origin(url, server_) ? key_ : std::nullopt);
        for (const auto& [name, value] : headers)
            req.set(name, value);
        beast::error_code ec;
        r->parser.body_limit(boost::none);
        r->conn->with_stream([&](auto& s) {
            bhttp::write(s, req, ec);
            if (!ec)
                bhttp::read_header(s, r->buffer, r->parser, ec);
        });
        if (ec)
            throw client_error("cannot talk to " + host_header(url) + ": " + ec.message());
        const unsigned status = r->parser.get().result_int();
        const bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
        auto response = std::make_unique<http_response>(std::move(r));
        if (!redirect)
            return response;
        const auto location = response->header(bhttp::field::location);
        auto next = location ? resolve_location(url, *location) : std::nullopt;
        if (!next)
            throw client_error("the server answered HTTP " + std::to_string(status) + " with no usable Location" +
                               (location ? " (\"" + *location + "\")" : std::string()));
        if (hop == 5)
            throw client_error("more than 5 redirects, the last to " + host_header(*next));
        url = std::move(*next);
    }
}

void http_client::follow_events(const std::string& path, const std::function<bool(const sse_message&)>& on_event) {
    std::unique_ptr<http_response> res;
    try {
        res = get(path, {{bhttp::field::accept, "text/event-stream"}});
    } catch (const client_error&) {
        return; // no events: the caller polls
    }
    if (res->status() != 200)
        return;
    sse_parser sse;
    std::array<char, 16384> chunk{};
    for (;;) {
        if (interrupted())
            return;
        // The server sends a ping at least every 15 s: a longer silence is a stream gone bad.
        if (!res->wait_readable(std::chrono::seconds(30)))
            continue; // a signal, or the silence: both are looked at above and below
        std::size_t n = 0;
        try {
            n = res->read_some(chunk.data(), chunk.size());
        } catch (const client_error&) {
            return;
        }
        if (n == 0)
            return;
        for (const auto& message : sse.feed(std::string_view(chunk.data(), n)))
            if (!on_event(message))
                return;
    }
}

} // namespace pgexport::cli
