#include "guards.hpp"

#include "text.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace pgexport::http {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

std::optional<std::string> host_name(std::string_view host) {
    std::string_view name;
    if (host.starts_with('[')) { // an IPv6 literal
        const auto close = host.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        name = host.substr(1, close - 1);
        const auto rest = host.substr(close + 1);
        if (!rest.empty() && !(rest.starts_with(':') && all_digits(rest.substr(1))))
            return std::nullopt;
        if (name.empty() || name.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
            return std::nullopt;
        return lower(name);
    }
    const auto colon = host.find(':');
    name = host.substr(0, colon);
    if (colon != std::string_view::npos && !all_digits(host.substr(colon + 1)))
        return std::nullopt;
    if (name.ends_with('.'))
        name.remove_suffix(1);
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") !=
            std::string_view::npos)
        return std::nullopt;
    return lower(name);
}

host_allow_list::host_allow_list(std::string_view listen_host, const std::vector<std::string>& extra) {
    for (std::string_view n : {std::string_view("localhost"), std::string_view("127.0.0.1"), std::string_view("::1")})
        names_.emplace_back(n);
    auto add = [&](std::string_view n) {
        if (n == "*") {
            any_ = true;
            return;
        }
        // Accept "name", "name:port", "[v6]" and a bare IPv6 address as written on the command line.
        const bool bare_v6 = !n.starts_with('[') && n.find(':') != n.rfind(':');
        std::string text;
        if (bare_v6) {
            text.reserve(n.size() + 2);
            text.push_back('[');
            text.append(n);
            text.push_back(']');
        } else {
            text.assign(n);
        }
        auto parsed = host_name(text);
        if (parsed)
            names_.push_back(*parsed);
    };
    add(listen_host);
    for (const auto& n : extra)
        add(n);
}

bool host_allow_list::name_listed(std::string_view name) const {
    return std::find(names_.begin(), names_.end(), name) != names_.end();
}

bool host_allow_list::host_allowed(std::optional<std::string_view> host) const {
    if (!host || any_)
        return true;
    auto name = host_name(*host);
    return name && name_listed(*name);
}

std::optional<unsigned> host_port(std::string_view host) {
    const auto close = host.rfind(']');
    const auto colon = host.rfind(':');
    if (colon == std::string_view::npos || (close != std::string_view::npos && colon < close))
        return std::nullopt;
    const auto digits = host.substr(colon + 1);
    if (!all_digits(digits))
        return std::nullopt;
    unsigned port = 0;
    for (char c : digits)
        port = port * 10 + static_cast<unsigned>(c - '0');
    if (port > 65535)
        return std::nullopt;
    return port;
}

std::optional<web_origin> parse_origin(std::string_view text) {
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos)
        return std::nullopt; // "null" (a sandboxed page, a file) or garbage
    web_origin o;
    o.scheme = lower(text.substr(0, scheme_end));
    if (o.scheme != "http" && o.scheme != "https")
        return std::nullopt;
    std::string_view rest = text.substr(scheme_end + 3);
    if (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos)
        return std::nullopt;
    auto name = host_name(rest);
    if (!name)
        return std::nullopt;
    o.host = std::move(*name);
    if (auto port = host_port(rest)) {
        if (*port == 0)
            return std::nullopt;
        o.port = *port;
    } else {
        o.port = o.scheme == "https" ? 443 : 80;
    }
    return o;
}

origin_policy::origin_policy(host_allow_list hosts, const std::vector<std::string>& allowed)
    : hosts_(std::move(hosts)) {
    for (const auto& text : allowed) {
        auto o = parse_origin(text);
        if (!o)
            throw std::invalid_argument("--allowed-origin must be an origin such as https://exports.example.org or "
                                        "http://localhost:3000 (scheme, host and port, no path), not \"" + text + "\"");
        allowed_.push_back(std::move(*o));
    }
}

bool origin_policy::allowed(std::optional<std::string_view> origin, std::optional<std::string_view> host,
                            std::string_view scheme, unsigned listen_port) const {
    if (!origin)
        return true;
    const auto o = parse_origin(*origin);
    if (!o)
        return false;
    if (std::find(allowed_.begin(), allowed_.end(), *o) != allowed_.end())
        return true;
    if (!hosts_.name_listed(o->host))
        return false; // a name that only --allowed-host '*' lets in, or none of ours: never our own page
    if (o->scheme == "http" && o->port == listen_port)
        return true;
    // The origin the request itself came to: its Host, as the client (or a trusted proxy) used it.
    if (!host || o->scheme != scheme)
        return false;
    const auto name = host_name(*host);
    const unsigned port = host_port(*host).value_or(scheme == "https" ? 443 : 80);
    return name && *name == o->host && port == o->port;
}

bool is_json_content_type(std::optional<std::string_view> content_type) {
    if (!content_type)
        return false;
    return lower(trim_blanks(content_type->substr(0, content_type->find(';')))) == "application/json";
}

} // namespace pgexport::http
