#pragma once
// What a browser could be tricked into sending, refused before any handler runs. Pure: no I/O.
//  - DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reaches this server with
//    `Host: evil.example`; only our own names are served (421).
//  - CSRF: a page of another site posts to us; a state-changing request whose `Origin` is not exactly
//    this server's own origin (scheme, host and port) or an --allowed-origin is refused (403), and a POST
//    must be JSON (415), which a form or a "simple" fetch cannot send without a CORS preflight that this
//    server never grants.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

class host_allow_list {
public:
    // The names served: the listen address, localhost, 127.0.0.1, ::1 and `extra` (--allowed-host; "*"
    // allows any name in the Host header, and nothing more).
    host_allow_list(std::string_view listen_host, const std::vector<std::string>& extra);

    // A Host header's value ("name", "name:port", "[v6]:port"); names compare case-insensitively and
    // without a trailing dot. A request without Host (HTTP/1.0) is allowed: a browser always sends one.
    bool host_allowed(std::optional<std::string_view> host) const;

    // True for a name served by name: the listen address, the loopback names and --allowed-host names,
    // never one that only "*" lets in (a rebound name is not ours).
    bool name_listed(std::string_view name) const;

private:
    std::vector<std::string> names_;
    bool any_ = false;
};

// An origin: scheme, host and port, as a browser sends it in `Origin` ("http://name:8080").
struct web_origin {
    std::string scheme; // "http" or "https"
    std::string host;   // lower case, IPv6 without brackets
    unsigned port = 0;  // the scheme's default when the origin names none

    friend bool operator==(const web_origin&, const web_origin&) = default;
};

// "scheme://host[:port]" (a trailing '/' allowed, no path); nullopt for "null", other schemes, a path,
// anything malformed.
std::optional<web_origin> parse_origin(std::string_view text);

// Which origins may change state here (CSRF).
class origin_policy {
public:
    // `hosts` names the server; `allowed` are --allowed-origin URLs. Throws std::invalid_argument naming
    // a malformed --allowed-origin.
    origin_policy(host_allow_list hosts, const std::vector<std::string>& allowed);

    // True when `origin` (the header; nullopt: absent, not a browser) is this server's own origin or an
    // allowed one. The server's own origins: http on `listen_port` under any listed name, and the
    // request's own `scheme`://`host` (the Host header, under a listed name; `scheme` is "http", or what a
    // trusted proxy says the client used).
    bool allowed(std::optional<std::string_view> origin, std::optional<std::string_view> host,
                 std::string_view scheme, unsigned listen_port) const;

    const host_allow_list& hosts() const { return hosts_; }

private:
    host_allow_list hosts_;
    std::vector<web_origin> allowed_;
};

// The name part of a Host value, lower case, without port, brackets or trailing dot; nullopt when
// malformed (empty, a bad port, stray characters).
std::optional<std::string> host_name(std::string_view host);

// The port of a Host value, or nullopt when it names none (or is malformed).
std::optional<unsigned> host_port(std::string_view host);

// True when a Content-Type header value is application/json (any parameters, any case).
bool is_json_content_type(std::optional<std::string_view> content_type);

} // namespace pgexport::http
