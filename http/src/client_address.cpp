#include "client_address.hpp"

#include "text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

namespace ip = boost::asio::ip;

namespace pgexport::http {

namespace {

std::optional<ip::address> parse_address(std::string_view text) {
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(text), ec);
    if (ec)
        return std::nullopt;
    return canonical(a);
}

// An X-Forwarded-For entry: an address, "[v6]", "[v6]:port" or "v4:port" (some proxies add the port).
std::optional<ip::address> parse_entry(std::string_view entry) {
    entry = trim_blanks(entry);
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        return parse_address(entry.substr(1, close - 1));
    }
    if (auto a = parse_address(entry))
        return a;
    const auto colon = entry.find(':');
    if (colon != std::string_view::npos && colon == entry.rfind(':'))
        return parse_address(entry.substr(0, colon)); // v4:port
    return std::nullopt;
}

// The address's bytes, IPv4 in the first 4.
std::array<unsigned char, 16> address_bytes(const ip::address& x) {
    std::array<unsigned char, 16> out{};
    if (x.is_v4()) {
        const auto b = x.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), out.begin());
    } else {
        out = x.to_v6().to_bytes();
    }
    return out;
}

bool in_network(const ip_network& n, const ip::address& a) {
    if (n.base.is_v4() != a.is_v4())
        return false;
    const auto base = address_bytes(n.base), addr = address_bytes(a);
    for (unsigned bit = 0; bit < n.prefix; ++bit) {
        const unsigned mask = 0x80u >> (bit % 8);
        if ((base[bit / 8] & mask) != (addr[bit / 8] & mask))
            return false;
    }
    return true;
}

} // namespace

ip::address canonical(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

std::optional<ip_network> parse_network(std::string_view text) {
    const auto slash = text.find('/');
    auto base = parse_address(text.substr(0, slash));
    if (!base)
        return std::nullopt;
    const unsigned bits = base->is_v4() ? 32 : 128;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix > bits)
            return std::nullopt;
    }
    // Host bits set ("10.1.2.3/8") are a typo more often than a wish: refuse them.
    const auto bytes = address_bytes(*base);
    for (unsigned bit = prefix; bit < bits; ++bit)
        if (bytes[bit / 8] & (0x80u >> (bit % 8)))
            return std::nullopt;
    ip_network n{*base, prefix};
    return n;
}

trusted_proxies::trusted_proxies(const std::vector<std::string>& networks) {
    for (const auto& text : networks) {
        auto n = parse_network(text);
        if (!n)
            throw std::invalid_argument("--trusted-proxy must be an address or a network such as 10.0.0.0/8 or "
                                        "fd00::/8 (no host bits set after the prefix), not \"" + text + "\"");
        networks_.push_back(*n);
    }
}

bool trusted_proxies::trusts(const ip::address& a) const {
    for (const auto& n : networks_)
        if (in_network(n, a))
            return true;
    return false;
}

bool trusted_proxies::trusts(std::string_view address) const {
    if (networks_.empty())
        return false;
    auto a = parse_address(address);
    return a && trusts(*a);
}

std::string trusted_proxies::client(std::string_view peer, std::string_view forwarded_for) const {
    if (!trusts(peer))
        return std::string(peer);
    std::string client(peer);
    std::string_view rest = forwarded_for;
    while (!trim_blanks(rest).empty()) {
        const auto comma = rest.rfind(',');
        const std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (trim_blanks(entry).empty())
            continue;
        const auto a = parse_entry(entry);
        if (!a)
            return client; // "unknown", garbage: the nearest hop we can vouch for
        client = a->to_string();
        if (!trusts(*a))
            return client;
    }
    return client;
}

std::string trusted_proxies::scheme(std::string_view peer, std::optional<std::string_view> forwarded_proto) const {
    if (!forwarded_proto || !trusts(peer))
        return "http";
    std::string_view last = *forwarded_proto;
    if (const auto comma = last.rfind(','); comma != std::string_view::npos)
        last = last.substr(comma + 1);
    last = trim_blanks(last);
    return last == "https" || last == "HTTPS" ? "https" : "http";
}

} // namespace pgexport::http
