// Where a webhook may go: notification URLs, address classes and the allow list. No I/O.

#include "policy/webhook_target.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/test/unit_test.hpp>

using namespace pgexport::engine;
using namespace pgexport::engine::detail;
using boost::asio::ip::make_address;

BOOST_AUTO_TEST_SUITE(webhook_target)

BOOST_AUTO_TEST_CASE(urls) {
    struct item {
        std::string url, scheme, host;
        int port;
        std::string target;
    };
    const item good[] = {
        {"https://hooks.example.com/pgexport?x=1", "https", "hooks.example.com", 443, "/pgexport?x=1"},
        {"HTTP://Hooks.Example.COM:8080", "http", "hooks.example.com", 8080, "/"},
        {"http://127.0.0.1:9/a/b", "http", "127.0.0.1", 9, "/a/b"},
        {"https://[2001:DB8::1]:8443/x", "https", "2001:db8::1", 8443, "/x"},
        {"https://[::1]/", "https", "::1", 443, "/"},
        {"https://h?q", "https", "h", 443, "/?q"},
        {"https://my_host.internal:65535/%20", "https", "my_host.internal", 65535, "/%20"},
    };
    for (const auto& c : good) {
        BOOST_TEST_CONTEXT(c.url) {
            const auto u = parse_webhook_url(c.url);
            BOOST_REQUIRE(u);
            BOOST_TEST(u->scheme == c.scheme);
            BOOST_TEST(u->host == c.host);
            BOOST_TEST(u->port == c.port);
            BOOST_TEST(u->target == c.target);
        }
    }
    const std::pair<std::string, std::string> bad[] = {
        {"ftp://example.com/", "http:// or https://"},
        {"example.com/hook", "http:// or https://"},
        {"https:///path", "no host"},
        {"https://user:pw@example.com/", "credentials"},
        {"https://example.com/#frag", "fragment"},
        {"https://example.com:0/", "port"},
        {"https://example.com:65536/", "port"},
        {"https://example.com:80x/", "port"},
        {"https://example.com:/", "empty port"},
        {"https://exa mple.com/", "spaces"},
        {"https://example.com/\n", "control"},
        {"https://[::1/", "closing ]"},
        {"https://[zz::1]/", "does not parse"},
        {"https://[fe80::1%25eth0]/", "does not parse"},
        {"https://[::1]x/", "after its IPv6"},
        {"https://exa*mple.com/", "host name"},
        {"https://" + std::string(2100, 'a') + ".com/", "longer than"},
    };
    for (const auto& [url, why] : bad) {
        BOOST_TEST_CONTEXT(url.substr(0, 60)) {
            const auto u = parse_webhook_url(url);
            BOOST_REQUIRE(!u);
            BOOST_TEST(u.error().code == errc::invalid_request);
            BOOST_TEST(u.error().message.find(why) != std::string::npos, u.error().message);
        }
    }
}

BOOST_AUTO_TEST_CASE(address_classes) {
    const std::pair<const char*, address_kind> cases[] = {
        {"93.184.216.34", address_kind::global},
        {"8.8.8.8", address_kind::global},
        {"127.0.0.1", address_kind::loopback},
        {"127.255.255.254", address_kind::loopback},
        {"0.0.0.0", address_kind::unspecified},
        {"0.1.2.3", address_kind::unspecified},
        {"10.0.0.1", address_kind::private_use},
        {"172.16.0.1", address_kind::private_use},
        {"172.31.255.255", address_kind::private_use},
        {"172.32.0.1", address_kind::global},
        {"192.168.1.1", address_kind::private_use},
        {"100.64.0.1", address_kind::private_use},
        {"100.128.0.1", address_kind::global},
        {"169.254.169.254", address_kind::link_local}, // cloud metadata
        {"224.0.0.1", address_kind::multicast},
        {"255.255.255.255", address_kind::reserved},
        {"240.0.0.1", address_kind::reserved},
        {"192.0.2.1", address_kind::reserved},
        {"198.18.0.1", address_kind::reserved},
        {"2606:2800:220:1::1", address_kind::global},
        {"::1", address_kind::loopback},
        {"::", address_kind::unspecified},
        {"fe80::1", address_kind::link_local},
        {"fc00::1", address_kind::private_use},
        {"fd12:3456::1", address_kind::private_use},
        {"ff02::1", address_kind::multicast},
        {"2001:db8::1", address_kind::reserved},
        {"::ffff:127.0.0.1", address_kind::loopback},     // mapped
        {"::ffff:169.254.169.254", address_kind::link_local},
        {"::ffff:8.8.8.8", address_kind::global},
        {"::127.0.0.1", address_kind::loopback},          // IPv4-compatible
        {"64:ff9b::a00:1", address_kind::private_use},    // NAT64 of 10.0.0.1
        {"64:ff9b::808:808", address_kind::global},
        {"2002:7f00:1::", address_kind::loopback},        // 6to4 of 127.0.0.1
        {"2002:c0a8:101::1", address_kind::private_use},  // 6to4 of 192.168.1.1
        {"4000::1", address_kind::reserved},              // outside 2000::/3
    };
    for (const auto& [text, kind] : cases)
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(static_cast<int>(classify_address(make_address(text))) == static_cast<int>(kind));
        }
}

BOOST_AUTO_TEST_CASE(the_rule) {
    const std::vector<std::string> none;
    const std::vector<std::string> allowed{"Receiver.Local", "127.0.0.1", "[::1]"};
    const auto loopback = make_address("127.0.0.1");
    const auto why = refuse_address("localhost", loopback, none);
    BOOST_REQUIRE(why);
    BOOST_TEST(why->find("127.0.0.1, a loopback address") != std::string::npos, *why);
    BOOST_TEST(why->find("--webhook-allow localhost") != std::string::npos, *why);
    BOOST_TEST(!refuse_address("receiver.local", make_address("10.1.2.3"), allowed)); // allowed, any case
    BOOST_TEST(!refuse_address("127.0.0.1", loopback, allowed));
    BOOST_TEST(!refuse_address("::1", make_address("::1"), allowed)); // brackets or not
    BOOST_TEST(refuse_address("localhost", loopback, allowed).has_value()); // the host, not the address
    BOOST_TEST(!refuse_address("example.com", make_address("93.184.216.34"), none));
    // One private address among public ones refuses the host; none at all too.
    const std::vector<boost::asio::ip::address> mixed{make_address("93.184.216.34"), make_address("10.0.0.7")};
    BOOST_TEST(refuse_addresses("example.com", mixed, none).value_or("").find("10.0.0.7") != std::string::npos);
    BOOST_TEST(refuse_addresses("example.com", {}, none).value_or("").find("no address") != std::string::npos);
    const std::vector<boost::asio::ip::address> only_public{make_address("93.184.216.34")};
    BOOST_TEST(!refuse_addresses("example.com", only_public, none));
}

BOOST_AUTO_TEST_SUITE_END()
