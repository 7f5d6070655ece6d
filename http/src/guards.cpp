#include "guards.hpp"

#include <algorithm>
#include <cctype>

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

bool host_allow_list::name_allowed(std::string_view name) const {
    return any_ || std::find(names_.begin(), names_.end(), name) != names_.end();
}

bool host_allow_list::host_allowed(std::optional<std::string_view> host) const {
    if (!host)
        return true;
    if (any_)
        return true;
    auto name = host_name(*host);
    return name && name_allowed(*name);
}

bool host_allow_list::origin_allowed(std::optional<std::string_view> origin) const {
    if (!origin)
        return true;
    const auto scheme_end = origin->find("://");
    if (scheme_end == std::string_view::npos)
        return false; // "null" (a sandboxed page, a file) or garbage
    const auto scheme = lower(origin->substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
        return false;
    std::string_view rest = origin->substr(scheme_end + 3);
    if (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos)
        return false;
    auto name = host_name(rest);
    return name && name_allowed(*name);
}

bool is_json_content_type(std::optional<std::string_view> content_type) {
    if (!content_type)
        return false;
    std::string_view type = content_type->substr(0, content_type->find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
        type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
        type.remove_prefix(1);
    return lower(type) == "application/json";
}

} // namespace pgexport::http
