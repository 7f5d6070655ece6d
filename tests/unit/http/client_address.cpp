// --trusted-proxy: who the client is behind a chain of proxies, and what scheme it used.
#include "client_address.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>

using namespace pgexport::http;

BOOST_AUTO_TEST_CASE(networks_are_parsed_strictly) {
    BOOST_TEST(parse_network("10.0.0.0/8").value().prefix == 8u);
    BOOST_TEST(parse_network("192.168.1.5").value().prefix == 32u);
    BOOST_TEST(parse_network("fd00::/8").value().prefix == 8u);
    BOOST_TEST(parse_network("::1").value().prefix == 128u);
    BOOST_TEST(parse_network("::ffff:10.0.0.0/8").value().base.is_v4()); // a mapped address is its IPv4 one
    for (std::string_view bad : {"", "10.0.0.0/", "10.0.0.0/33", "10.1.2.3/8", "10.0.0.0/x", "host.example",
                                 "fd00::1/8", "10.0.0.0/8/8", "10.0.0.0 /8"})
        BOOST_TEST(!parse_network(bad).has_value(), bad);
    BOOST_CHECK_THROW(trusted_proxies({"10.0.0.0/33"}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(an_untrusted_peer_is_the_client_whatever_it_says) {
    const trusted_proxies none({});
    BOOST_TEST(none.client("203.0.113.7", "198.51.100.1") == "203.0.113.7");
    const trusted_proxies proxies({"10.0.0.0/8"});
    BOOST_TEST(proxies.client("203.0.113.7", "198.51.100.1") == "203.0.113.7");
    BOOST_TEST(proxies.scheme("203.0.113.7", "https") == "http");
}

BOOST_AUTO_TEST_CASE(the_last_untrusted_address_is_the_client) {
    const trusted_proxies proxies({"10.0.0.0/8", "127.0.0.1", "fd00::/8"});
    // The client wrote the first entry itself: it is not believed.
    BOOST_TEST(proxies.client("127.0.0.1", "1.2.3.4, 198.51.100.9") == "198.51.100.9");
    BOOST_TEST(proxies.client("127.0.0.1", "1.2.3.4, 198.51.100.9, 10.1.1.1") == "198.51.100.9");
    BOOST_TEST(proxies.client("127.0.0.1", "198.51.100.9,10.1.1.1 ,10.2.2.2") == "198.51.100.9");
    BOOST_TEST(proxies.client("127.0.0.1", "2001:db8::5, fd00::1") == "2001:db8::5");
    BOOST_TEST(proxies.client("127.0.0.1", "[2001:db8::5]:4711") == "2001:db8::5");
    BOOST_TEST(proxies.client("127.0.0.1", "198.51.100.9:4711") == "198.51.100.9");
    // All trusted: the first; none: the peer; garbage: the nearest trusted hop.
    BOOST_TEST(proxies.client("127.0.0.1", "10.9.9.9, 10.1.1.1") == "10.9.9.9");
    BOOST_TEST(proxies.client("127.0.0.1", "") == "127.0.0.1");
    BOOST_TEST(proxies.client("127.0.0.1", "unknown, 10.1.1.1") == "10.1.1.1");
    BOOST_TEST(proxies.client("127.0.0.1", "198.51.100.9, unknown") == "127.0.0.1");
    BOOST_TEST(proxies.client("::ffff:127.0.0.1", "198.51.100.9") == "198.51.100.9");
}

BOOST_AUTO_TEST_CASE(a_trusted_proxy_says_the_scheme) {
    const trusted_proxies proxies({"127.0.0.1"});
    BOOST_TEST(proxies.scheme("127.0.0.1", "https") == "https");
    BOOST_TEST(proxies.scheme("127.0.0.1", "http, https") == "https");
    BOOST_TEST(proxies.scheme("127.0.0.1", "ftp") == "http");
    BOOST_TEST(proxies.scheme("127.0.0.1", std::nullopt) == "http");
}
