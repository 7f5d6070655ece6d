#pragma once
// Who the client is when requests come through reverse proxies (--trusted-proxy CIDR). Pure: no I/O.
//
// A request from a trusted proxy names its client in X-Forwarded-For, each proxy appending the address it
// received the request from. Anyone can write the left part, so the list is read from the right: the
// client is the last address that is not itself a trusted proxy. Quotas, stream caps and the log go by
// that address; a request from anywhere else is its peer, whatever it sends.

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

struct ip_network {
    boost::asio::ip::address base; // IPv4-mapped IPv6 addresses are kept as IPv4
    unsigned prefix = 0;           // bits
};

// "10.0.0.0/8", "fd00::/8", or one address ("192.168.1.5", "::1"); nullopt when malformed (a prefix past
// the address's bits, host bits set, anything else).
std::optional<ip_network> parse_network(std::string_view text);

// An address as clients are counted: an IPv4-mapped IPv6 address as IPv4.
boost::asio::ip::address canonical(const boost::asio::ip::address& a);

class trusted_proxies {
public:
    // Throws std::invalid_argument naming a malformed --trusted-proxy.
    explicit trusted_proxies(const std::vector<std::string>& networks);

    bool empty() const { return networks_.empty(); }
    bool trusts(std::string_view address) const;

    // The client's address: `peer` itself unless it is trusted; then, of the X-Forwarded-For list
    // (`forwarded_for`, every header's value joined by commas), the last address that is not trusted (the
    // first entry when all are; the nearest trusted one when an entry is not an address).
    std::string client(std::string_view peer, std::string_view forwarded_for) const;

    // The scheme the client used: `X-Forwarded-Proto`'s last value ("http" or "https") from a trusted
    // peer, else "http".
    std::string scheme(std::string_view peer, std::optional<std::string_view> forwarded_proto) const;

private:
    bool trusts(const boost::asio::ip::address& a) const;
    std::vector<ip_network> networks_;
};

} // namespace pgexport::http
