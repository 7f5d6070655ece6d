// Standard Webhooks' signatures: the specification's published example, base64 both ways, the whsec_
// secret's form. No I/O.

#include "format/webhook_signature.hpp"

#include <pgexport/webhooks.hpp>

#include <boost/test/unit_test.hpp>

using namespace pgexport::engine::detail;

BOOST_AUTO_TEST_SUITE(webhook_signature_suite)

// The example of the specification's reference libraries ("sign function works"): the secret, message id,
// timestamp and payload below give exactly this signature.
BOOST_AUTO_TEST_CASE(the_specifications_example) {
    const auto key = webhook_key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    BOOST_REQUIRE(key);
    BOOST_TEST(key->size() == 24u);
    BOOST_TEST(webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // Any change to what is signed changes the signature.
    BOOST_TEST(webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})") !=
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    BOOST_TEST(webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJeK", 1614265330, R"({"test": 2432232314})") !=
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    BOOST_TEST(webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test":2432232314})") !=
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

BOOST_AUTO_TEST_CASE(base64_both_ways) {
    // RFC 4648, section 10.
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        BOOST_TEST_CONTEXT("\"" << plain << "\"") {
            BOOST_TEST(base64_encode(plain) == encoded);
            BOOST_TEST((base64_decode(encoded) == std::optional<std::string>(plain)));
        }
    }
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    BOOST_TEST((base64_decode(base64_encode(all)) == std::optional<std::string>(all)));
    for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==", "Zh==", "Zm9=", "=Zg="})
        BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!base64_decode(bad)); }
}

BOOST_AUTO_TEST_CASE(secrets) {
    BOOST_TEST(webhook_key_of("  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").has_value());
    BOOST_TEST(!webhook_key_of("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));     // no prefix
    BOOST_TEST(!webhook_key_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa")); // 21 bytes: too short
    BOOST_TEST(!webhook_key_of("whsec_not base64!"));
    BOOST_TEST(!webhook_key_of("whsec_" + base64_encode(std::string(65, 'k')))); // too long
    BOOST_TEST((webhook_key_of("whsec_" + base64_encode(std::string(64, 'k'))) == std::optional<std::string>(std::string(64, 'k'))));
    // A new secret reads back as a 32-byte key, and two differ.
    const std::string a = pgexport::engine::make_webhook_secret();
    const std::string b = pgexport::engine::make_webhook_secret();
    BOOST_TEST(a.starts_with("whsec_"));
    BOOST_TEST(a != b);
    BOOST_REQUIRE(pgexport::engine::webhook_key_of(a));
    BOOST_TEST(pgexport::engine::webhook_key_of(a)->size() == 32u);
}

BOOST_AUTO_TEST_SUITE_END()
