// Host allow-list (DNS rebinding), Origin (CSRF) and the JSON-only POST.
#include "guards.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>

using namespace pgexport::http;

BOOST_AUTO_TEST_CASE(host_names_are_parsed_strictly) {
    BOOST_TEST(host_name("LocalHost:8080").value() == "localhost");
    BOOST_TEST(host_name("example.com.").value() == "example.com");
    BOOST_TEST(host_name("[::1]:8080").value() == "::1");
    BOOST_TEST(host_name("127.0.0.1").value() == "127.0.0.1");
    for (std::string_view bad : {"", ":8080", "a:b", "a:123456", "[::1", "[::1]x", "a b", "a/b", "a@b", "[]:80", "evil.example:80:80"})
        BOOST_TEST(!host_name(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(only_our_names_are_served) {
    host_allow_list hosts("127.0.0.1", {"exports.internal", "10.0.0.5"});
    for (std::string_view ok : {"localhost", "localhost:8080", "127.0.0.1:9", "[::1]:8080", "EXPORTS.internal:80",
                                "exports.internal.", "10.0.0.5"})
        BOOST_TEST(hosts.host_allowed(ok), ok);
    for (std::string_view bad : {"evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.2",
                                 "exports.internal.evil", "", "localhost:x"})
        BOOST_TEST(!hosts.host_allowed(bad), bad);
    BOOST_TEST(hosts.host_allowed(std::nullopt)); // HTTP/1.0 without Host: not a browser
}

BOOST_AUTO_TEST_CASE(the_listen_address_and_a_star_are_allowed) {
    host_allow_list hosts("192.168.1.10", {});
    BOOST_TEST(hosts.host_allowed("192.168.1.10:8080"));
    BOOST_TEST(!hosts.host_allowed("192.168.1.11:8080"));
    host_allow_list any("0.0.0.0", {"*"});
    BOOST_TEST(any.host_allowed("whatever.example"));
    host_allow_list v6("::", {"fd00::1"});
    BOOST_TEST(v6.host_allowed("[fd00::1]:8080"));
}

BOOST_AUTO_TEST_CASE(origins_are_parsed_with_their_ports) {
    BOOST_TEST((parse_origin("http://localhost:8080").value() == web_origin{"http", "localhost", 8080}));
    BOOST_TEST((parse_origin("HTTPS://Exports.Example.org").value() == web_origin{"https", "exports.example.org", 443}));
    BOOST_TEST((parse_origin("http://[::1]").value() == web_origin{"http", "::1", 80}));
    BOOST_TEST((parse_origin("http://[::1]:81/").value() == web_origin{"http", "::1", 81}));
    for (std::string_view bad : {"null", "file://", "localhost", "ftp://localhost", "http://localhost/path",
                                 "http://localhost:0", "http://localhost:x", "http://", ""})
        BOOST_TEST(!parse_origin(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(origins_must_be_exactly_ours) {
    const origin_policy policy(host_allow_list("127.0.0.1", {}), {});
    const auto allowed = [&](std::optional<std::string_view> origin, std::string_view host = "127.0.0.1:8080",
                             std::string_view scheme = "http") {
        return policy.allowed(origin, host, scheme, 8080);
    };
    BOOST_TEST(allowed(std::nullopt)); // not a browser
    for (std::string_view ok : {"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"})
        BOOST_TEST(allowed(ok), ok);
    // Another port or scheme of the same host is another origin: a page on localhost:3000 is not ours.
    for (std::string_view bad : {"http://localhost:3000", "https://localhost:8080", "https://localhost",
                                 "http://localhost", "null", "http://evil.example:8080", "http://localhost.evil.example:8080"})
        BOOST_TEST(!allowed(bad), bad);
    // The origin the request came to (a port mapped in front of ours).
    BOOST_TEST(allowed("http://localhost:9999", "localhost:9999"));
    BOOST_TEST(!allowed("http://localhost:9999", "localhost:9998"));
    // Through a TLS proxy that says so: https and the default port.
    BOOST_TEST(allowed("https://localhost", "localhost", "https"));
    BOOST_TEST(!allowed("https://localhost", "localhost", "http"));
}

BOOST_AUTO_TEST_CASE(a_star_host_opens_no_origin) {
    // --allowed-host '*' serves any Host; a rebound name's page must still not change anything here.
    const origin_policy policy(host_allow_list("0.0.0.0", {"*"}), {});
    BOOST_TEST(policy.hosts().host_allowed("evil.example:8080"));
    BOOST_TEST(!policy.allowed("http://evil.example:8080", "evil.example:8080", "http", 8080));
    BOOST_TEST(policy.allowed("http://localhost:8080", "evil.example:8080", "http", 8080));
}

BOOST_AUTO_TEST_CASE(allowed_origins_are_exact) {
    const origin_policy policy(host_allow_list("127.0.0.1", {"exports.example.org"}),
                               {"https://exports.example.org", "http://localhost:3000"});
    BOOST_TEST(policy.allowed("https://exports.example.org", "127.0.0.1:8080", "http", 8080));
    BOOST_TEST(policy.allowed("https://exports.example.org:443", "127.0.0.1:8080", "http", 8080));
    BOOST_TEST(policy.allowed("http://localhost:3000", "127.0.0.1:8080", "http", 8080));
    BOOST_TEST(!policy.allowed("http://exports.example.org", "127.0.0.1:8080", "http", 8080));
    BOOST_TEST(!policy.allowed("https://exports.example.org:8443", "127.0.0.1:8080", "http", 8080));
    BOOST_CHECK_THROW(origin_policy(host_allow_list("127.0.0.1", {}), {"exports.example.org"}), std::invalid_argument);
    BOOST_CHECK_THROW(origin_policy(host_allow_list("127.0.0.1", {}), {"https://x.example/app"}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_post_must_be_json) {
    BOOST_TEST(is_json_content_type("application/json"));
    BOOST_TEST(is_json_content_type("Application/JSON; charset=utf-8"));
    BOOST_TEST(is_json_content_type(" application/json ;charset=UTF-8"));
    for (std::string_view bad : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "application/jsonx", "application/json-patch+json", ""})
        BOOST_TEST(!is_json_content_type(bad), bad);
    BOOST_TEST(!is_json_content_type(std::nullopt));
}
