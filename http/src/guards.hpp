#pragma once
// What a browser could be tricked into sending, refused before any handler runs. Pure: no I/O.
//  - DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reaches this server with
//    `Host: evil.example`; only our own names are served (421).
//  - CSRF: a page of another site posts to us; a state-changing request whose `Origin` is not one of our
//    names is refused (403), and a POST must be JSON (415), which a form or a "simple" fetch cannot send
//    without a CORS preflight that this server never grants.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

class host_allow_list {
public:
    // The names served: the listen address, localhost, 127.0.0.1, ::1 and `extra` (--allowed-host; "*"
    // allows any name).
    host_allow_list(std::string_view listen_host, const std::vector<std::string>& extra);

    // A Host header's value ("name", "name:port", "[v6]:port"); names compare case-insensitively and
    // without a trailing dot. A request without Host (HTTP/1.0) is allowed: a browser always sends one.
    bool host_allowed(std::optional<std::string_view> host) const;

    // An Origin header's value ("scheme://name[:port]"); absent is allowed (not a browser), "null" and
    // anything malformed are not.
    bool origin_allowed(std::optional<std::string_view> origin) const;

    bool name_allowed(std::string_view name) const;

private:
    std::vector<std::string> names_;
    bool any_ = false;
};

// The name part of a Host value, lower case, without port, brackets or trailing dot; nullopt when
// malformed (empty, a bad port, stray characters).
std::optional<std::string> host_name(std::string_view host);

// True when a Content-Type header value is application/json (any parameters, any case).
bool is_json_content_type(std::optional<std::string_view> content_type);

} // namespace pgexport::http
