// HMAC-SHA256 (engine/src/util/hmac) against RFC 4231's published test vectors, and the hex forms of a
// digest that signatures travel in. No I/O.

#include "util/hmac.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace pgexport::engine::detail;

namespace {

std::string bytes(std::size_t n, unsigned char value) {
    return std::string(n, static_cast<char>(value));
}

std::string hmac_hex(std::string_view key, std::string_view message) {
    return to_hex(hmac_sha256(key, message));
}

} // namespace

BOOST_AUTO_TEST_SUITE(hmac)

// RFC 4231 section 4: every case with its full HMAC-SHA-256 output.
BOOST_AUTO_TEST_CASE(matches_rfc_4231) {
    std::string key4;
    for (unsigned char c = 1; c <= 25; ++c)
        key4 += static_cast<char>(c);
    struct item {
        std::string key, data, hex;
        const char* what;
    };
    const item cases[] = {
        {bytes(20, 0x0b), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
         "test case 1"},
        {"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "test case 2: a short key"},
        {bytes(20, 0xaa), bytes(50, 0xdd), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
         "test case 3"},
        {key4, bytes(50, 0xcd), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
         "test case 4"},
        {bytes(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
         "test case 6: a key longer than a block"},
        {bytes(131, 0xaa),
         "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
         "to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
         "test case 7: long key and data"},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.what) {
            BOOST_TEST(hmac_hex(c.key, c.data) == c.hex);
        }
    // Test case 5 gives only the first 128 bits.
    BOOST_TEST(hmac_hex(bytes(20, 0x0c), "Test With Truncation").substr(0, 32) ==
               "a3b6167473100ee06e0c796c2955552b");
}

// SigV4 keys each HMAC with the previous one's raw bytes: digest_bytes must be those 32 bytes, not hex.
BOOST_AUTO_TEST_CASE(a_digest_keys_the_next_hmac) {
    const sha256_digest first = hmac_sha256("Jefe", "what do ya want for nothing?");
    const std::string_view raw = digest_bytes(first);
    BOOST_TEST(raw.size() == 32u);
    BOOST_TEST(to_hex({reinterpret_cast<const unsigned char*>(raw.data()), raw.size()}) ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Python's hmac.new(hmac.new(b"Jefe", b"what do ya want for nothing?", sha256).digest(), b"next", sha256).
    BOOST_TEST(hmac_hex(raw, "next") == "11280dd92cc105a086b244b6ec0dc12a8b07f897a25d0b386bc3af1a19a2f1c5");
}

BOOST_AUTO_TEST_CASE(hex_round_trip) {
    const sha256_digest d = hmac_sha256(bytes(20, 0x0b), "Hi There");
    const std::string lower = to_hex(d);
    BOOST_TEST(lower == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    BOOST_TEST(to_hex(std::span<const unsigned char>{}) == "");
    const auto parsed = digest_from_hex(lower);
    BOOST_TEST_REQUIRE(parsed.has_value());
    BOOST_TEST(*parsed == d);

    std::string upper = lower;
    for (char& c : upper)
        if (c >= 'a' && c <= 'f')
            c = static_cast<char>(c - 'a' + 'A');
    BOOST_TEST((digest_from_hex(upper) == d), "upper-case hex is the same digest");

    struct item {
        std::string text;
        const char* what;
    };
    const item bad[] = {
        {"", "empty"},
        {lower.substr(0, 62), "one byte short"},
        {lower + "00", "one byte long"},
        {lower.substr(0, 63) + "g", "a letter past f"},
        {lower.substr(0, 62) + " 7", "a space"},
        {"0x" + lower.substr(2), "a prefix"},
    };
    for (const auto& b : bad)
        BOOST_TEST_CONTEXT(b.what) {
            BOOST_TEST(!digest_from_hex(b.text).has_value());
        }
}

BOOST_AUTO_TEST_CASE(digests_compare_by_every_byte) {
    const sha256_digest d = hmac_sha256("key", "message");
    BOOST_TEST(digests_equal(d, d));
    for (std::size_t i : {std::size_t{0}, std::size_t{15}, std::size_t{31}})
        BOOST_TEST_CONTEXT("byte " << i) {
            sha256_digest other = d;
            other[i] ^= 0x01;
            BOOST_TEST(!digests_equal(d, other));
        }
}

BOOST_AUTO_TEST_SUITE_END()
