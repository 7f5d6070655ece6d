#pragma once
// Where a webhook may go, pure (no I/O): a notification URL's parts, and the rule on the addresses its host
// resolves to. A server must not be made to POST into its own network (SSRF): loopback, link-local,
// private and other non-public addresses are refused unless the operator allowed the host
// (--webhook-allow). The rule is applied at creation and again at every try, on the addresses the try
// connects to, since a DNS answer can change between the two.

#include <pgexport/error.hpp>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

struct webhook_url {
    std::string scheme; // "http" or "https", lower case
    std::string host;   // lower case; an IPv6 literal without its brackets
    std::uint16_t port = 0;
    std::string target; // the path and query, "/" when the URL has none

    // The host as a URL writes it (an IPv6 literal in brackets).
    std::string authority_host() const;
};

// The most bytes a notification URL may have.
inline constexpr std::size_t max_webhook_url_bytes = 2048;

// Parses http[s]://host[:port][/path][?query]. Refused (invalid_request, naming what is wrong): another
// scheme, no host, credentials (user@), a fragment, a port out of range, spaces or control characters,
// more than max_webhook_url_bytes.
result<webhook_url> parse_webhook_url(std::string_view url);

enum class address_kind {
    global,      // a public address: may be sent to
    loopback,    // 127.0.0.0/8, ::1
    unspecified, // 0.0.0.0/8, ::
    private_use, // 10/8, 172.16/12, 192.168/16, 100.64/10 (shared), fc00::/7 (unique local)
    link_local,  // 169.254/16 (cloud metadata), fe80::/10
    multicast,   // 224/4, ff00::/8
    reserved,    // 240/4, the broadcast, documentation and benchmarking ranges, 192.0.0/24, and the like
};

// What an address is. An IPv6 address that carries an IPv4 one (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96,
// 6to4 2002::/16, IPv4-compatible ::a.b.c.d) is what that IPv4 address is.
address_kind classify_address(const boost::asio::ip::address& address);

// "a loopback address", … for messages.
std::string_view describe(address_kind kind);

// Whether the operator allowed `host` (--webhook-allow, compared without case; an IPv6 literal with or
// without brackets).
bool host_allowed(std::string_view host, std::span<const std::string> allowed);

// nullopt when a try may connect to `address` for `host`; else why not, for the job's lastError and the
// creation's 400.
std::optional<std::string> refuse_address(std::string_view host, const boost::asio::ip::address& address,
                                          std::span<const std::string> allowed);

// The same for every address the host resolved to: refused when any is (a name that resolves to a public
// and a private address could be steered to the private one); refused too when there is none.
std::optional<std::string> refuse_addresses(std::string_view host,
                                            std::span<const boost::asio::ip::address> addresses,
                                            std::span<const std::string> allowed);

} // namespace pgexport::engine::detail
