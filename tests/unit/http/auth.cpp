// API keys: open without keys, owners per key, denied for anything else.
#include "auth.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;
using outcome = auth_result::outcome;

BOOST_AUTO_TEST_CASE(without_keys_everyone_is_let_in_and_sees_every_job) {
    authenticator a({}, "");
    BOOST_TEST(!a.keys_configured());
    auto r = a.check(std::nullopt);
    BOOST_TEST((r.kind == outcome::open));
    BOOST_TEST(!r.owner_filter().has_value());
    BOOST_TEST((a.check("Bearer anything").kind == outcome::open));
}

BOOST_AUTO_TEST_CASE(each_key_has_its_own_owner_that_is_not_the_key) {
    authenticator a({"alpha-key", "beta-key"}, std::string(32, 's'));
    auto ra = a.check("Bearer alpha-key");
    auto rb = a.check("bearer beta-key"); // the scheme is case-insensitive
    BOOST_TEST((ra.kind == outcome::owner));
    BOOST_TEST((rb.kind == outcome::owner));
    BOOST_TEST(ra.owner != rb.owner);
    BOOST_TEST(ra.owner.find("alpha-key") == std::string::npos);
    BOOST_TEST(ra.owner_filter().value() == ra.owner);
    BOOST_TEST(a.check("Bearer alpha-key").owner == ra.owner); // stable
}

BOOST_AUTO_TEST_CASE(missing_wrong_or_malformed_credentials_are_denied) {
    authenticator a({"alpha-key"}, std::string(32, 's'));
    for (std::optional<std::string_view> h :
         {std::optional<std::string_view>{}, std::optional<std::string_view>{""},
          std::optional<std::string_view>{"Bearer "}, std::optional<std::string_view>{"Bearer alpha-ke"},
          std::optional<std::string_view>{"Bearer alpha-keyy"}, std::optional<std::string_view>{"Basic alpha-key"},
          std::optional<std::string_view>{"alpha-key"}, std::optional<std::string_view>{"Bearer  alpha-key"}})
        BOOST_TEST((a.check(h).kind == outcome::denied), "accepted: " << h.value_or("<none>"));
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_whole_strings) {
    BOOST_TEST(constant_time_equal("", ""));
    BOOST_TEST(constant_time_equal("abc", "abc"));
    BOOST_TEST(!constant_time_equal("abc", "abd"));
    BOOST_TEST(!constant_time_equal("abc", "abcd"));
    BOOST_TEST(!constant_time_equal("abc", std::string_view("abc\0", 4)));
}
