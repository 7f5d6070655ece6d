#include "policy/webhook_target.hpp"

#include "util/text_checks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace pgexport::engine::detail {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

problem bad_url(std::string_view why) {
    std::string message = "\"notify\": \"url\" ";
    message += why;
    return invalid(std::move(message));
}

// A host name's characters: letters, digits, '-', '.' and '_' (an IPv4 literal is one too).
bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool in_v4(std::uint32_t a, std::uint32_t network, int bits) {
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == network;
}

address_kind classify_v4(const boost::asio::ip::address_v4& address) {
    const std::uint32_t a = address.to_uint();
    struct range {
        std::uint32_t network;
        int bits;
        address_kind kind;
    };
    auto net = [](std::uint32_t x, std::uint32_t y, std::uint32_t z, std::uint32_t w) {
        return x << 24 | y << 16 | z << 8 | w;
    };
    const std::array<range, 16> ranges = {{
        {net(0, 0, 0, 0), 8, address_kind::unspecified},
        {net(127, 0, 0, 0), 8, address_kind::loopback},
        {net(10, 0, 0, 0), 8, address_kind::private_use},
        {net(172, 16, 0, 0), 12, address_kind::private_use},
        {net(192, 168, 0, 0), 16, address_kind::private_use},
        {net(100, 64, 0, 0), 10, address_kind::private_use}, // shared address space (carrier NAT)
        {net(169, 254, 0, 0), 16, address_kind::link_local},
        {net(224, 0, 0, 0), 4, address_kind::multicast},
        {net(255, 255, 255, 255), 32, address_kind::reserved},
        {net(240, 0, 0, 0), 4, address_kind::reserved},
        {net(192, 0, 0, 0), 24, address_kind::reserved},  // IETF protocol assignments
        {net(192, 0, 2, 0), 24, address_kind::reserved},  // documentation
        {net(198, 51, 100, 0), 24, address_kind::reserved},
        {net(203, 0, 113, 0), 24, address_kind::reserved},
        {net(198, 18, 0, 0), 15, address_kind::reserved}, // benchmarking
        {net(192, 88, 99, 0), 24, address_kind::reserved}, // 6to4 relay anycast (deprecated)
    }};
    for (const range& r : ranges)
        if (in_v4(a, r.network, r.bits))
            return r.kind;
    return address_kind::global;
}

} // namespace

std::string webhook_url::authority_host() const {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

result<webhook_url> parse_webhook_url(std::string_view url) {
    if (url.size() > max_webhook_url_bytes)
        return bad_url("is longer than " + std::to_string(max_webhook_url_bytes) + " bytes");
    for (const char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad_url("must not hold spaces or control characters (percent-encode them)");
    webhook_url out;
    const std::size_t colon = url.find("://");
    if (colon == std::string_view::npos)
        return bad_url("must be an http:// or https:// URL");
    out.scheme = lower(url.substr(0, colon));
    if (out.scheme != "http" && out.scheme != "https")
        return bad_url("must be an http:// or https:// URL, not " + out.scheme + "://");
    std::string_view rest = url.substr(colon + 3);
    if (rest.find('#') != std::string_view::npos)
        return bad_url("must not have a fragment (#…)");
    const std::size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    const std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (!target.starts_with("/"))
        out.target += '/';
    out.target.append(target);
    if (authority.find('@') != std::string_view::npos)
        return bad_url("must not carry credentials (user@host): the signature authenticates the sender");
    std::string_view port_text;
    if (authority.starts_with("[")) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos)
            return bad_url("has an IPv6 address without its closing ]");
        const std::string_view literal = authority.substr(1, close - 1);
        boost::system::error_code ec;
        const auto v6 = boost::asio::ip::make_address_v6(std::string(literal), ec);
        if (ec || literal.find('%') != std::string_view::npos)
            return bad_url("has an IPv6 address that does not parse");
        out.host = v6.to_string();
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(":"))
            return bad_url("has something after its IPv6 address's ]");
        if (!after.empty())
            port_text = after.substr(1);
        if (after == ":")
            return bad_url("has an empty port");
    } else {
        const std::size_t port_colon = authority.find(':');
        const std::string_view name = authority.substr(0, port_colon);
        if (name.empty())
            return bad_url("has no host");
        if (!std::all_of(name.begin(), name.end(), name_char))
            return bad_url("has a host with characters a host name cannot have");
        out.host = lower(name);
        if (port_colon != std::string_view::npos) {
            port_text = authority.substr(port_colon + 1);
            if (port_text.empty())
                return bad_url("has an empty port");
        }
    }
    out.port = out.scheme == "https" ? 443 : 80;
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535)
            return bad_url("has a port that is not a number from 1 to 65535");
        out.port = static_cast<std::uint16_t>(port);
    }
    if (auto p = check_text(out.target, "\"notify\": \"url\""))
        return *p;
    return out;
}

address_kind classify_address(const boost::asio::ip::address& address) {
    if (address.is_v4())
        return classify_v4(address.to_v4());
    const auto v6 = address.to_v6();
    const auto b = v6.to_bytes();
    auto embedded_v4 = [&b](std::size_t at) {
        return boost::asio::ip::address_v4({b[at], b[at + 1], b[at + 2], b[at + 3]});
    };
    if (v6.is_v4_mapped())
        return classify_v4(embedded_v4(12));
    if (v6.is_unspecified())
        return address_kind::unspecified;
    if (v6.is_loopback())
        return address_kind::loopback;
    const bool first_96_zero = std::all_of(b.begin(), b.begin() + 12, [](unsigned char c) { return c == 0; });
    if (first_96_zero)
        return classify_v4(embedded_v4(12)); // IPv4-compatible (deprecated): what it carries
    // 64:ff9b::/96, NAT64: the IPv4 address it reaches.
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
        std::all_of(b.begin() + 4, b.begin() + 12, [](unsigned char c) { return c == 0; }))
        return classify_v4(embedded_v4(12));
    if (b[0] == 0x20 && b[1] == 0x02) // 2002::/16, 6to4: the IPv4 address in bits 16..47
        return classify_v4(embedded_v4(2));
    if (v6.is_multicast())
        return address_kind::multicast;
    if ((b[0] & 0xfe) == 0xfc) // fc00::/7
        return address_kind::private_use;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) // fe80::/10
        return address_kind::link_local;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) // fec0::/10, site-local (deprecated)
        return address_kind::private_use;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) // 2001:db8::/32, documentation
        return address_kind::reserved;
    if (b[0] == 0x01 && b[1] == 0x00 && std::all_of(b.begin() + 2, b.begin() + 8, [](unsigned char c) { return c == 0; }))
        return address_kind::reserved; // 100::/64, discard
    if ((b[0] & 0xe0) != 0x20) // outside 2000::/3, the global unicast space
        return address_kind::reserved;
    return address_kind::global;
}

std::string_view describe(address_kind kind) {
    switch (kind) {
    case address_kind::global: return "a public address";
    case address_kind::loopback: return "a loopback address";
    case address_kind::unspecified: return "an unspecified address";
    case address_kind::private_use: return "a private address";
    case address_kind::link_local: return "a link-local address";
    case address_kind::multicast: return "a multicast address";
    case address_kind::reserved: return "a reserved address";
    }
    return "an address";
}

bool host_allowed(std::string_view host, std::span<const std::string> allowed) {
    if (host.starts_with("[") && host.ends_with("]"))
        host = host.substr(1, host.size() - 2);
    return std::any_of(allowed.begin(), allowed.end(), [host](std::string_view a) {
        if (a.starts_with("[") && a.ends_with("]"))
            a = a.substr(1, a.size() - 2);
        return iequals(a, host);
    });
}

std::optional<std::string> refuse_address(std::string_view host, const boost::asio::ip::address& address,
                                          std::span<const std::string> allowed) {
    const address_kind kind = classify_address(address);
    if (kind == address_kind::global || host_allowed(host, allowed))
        return std::nullopt;
    std::string why = "the host ";
    why += host;
    why += " resolves to ";
    why += address.to_string();
    why += ", ";
    why += describe(kind);
    why += "; notifications go to public addresses only (the server's operator may allow this host with "
           "--webhook-allow ";
    why += host;
    why += ")";
    return why;
}

std::optional<std::string> refuse_addresses(std::string_view host,
                                            std::span<const boost::asio::ip::address> addresses,
                                            std::span<const std::string> allowed) {
    if (addresses.empty())
        return "the host " + std::string(host) + " resolves to no address";
    for (const auto& a : addresses)
        if (auto why = refuse_address(host, a, allowed))
            return why;
    return std::nullopt;
}

} // namespace pgexport::engine::detail
