// Signed download links and owner names (http/src/link_signing): the wire format, links checked against
// every way of altering them (HMAC-SHA256 itself: tests/unit/engine/hmac.cpp). No I/O.

#include "link_signing.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace pgexport::http;

namespace pgexport::http {
std::ostream& operator<<(std::ostream& out, link_check c) {
    const char* names[] = {"ok", "invalid", "expired"};
    return out << names[static_cast<int>(c)];
}
} // namespace pgexport::http

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";
const std::string job = "3f2a9c4e-1b7d-4e8a-9c0f-5d6e7f8a9b0c";
const std::string other_job = "3f2a9c4e-1b7d-4e8a-9c0f-5d6e7f8a9b0d";
constexpr std::int64_t expires = 1'700'000'000;
constexpr std::int64_t before = expires - 60;

} // namespace

BOOST_AUTO_TEST_SUITE(link_signing)

BOOST_AUTO_TEST_CASE(the_wire_format_is_fixed) {
    // Instances of different versions share links and owners: these values were computed independently
    // (Python's hmac module) from the documented messages "download\n<id>\n<expires>" and "owner\n<key>".
    BOOST_TEST(sign_download(secret, job, expires) ==
               "54ecf1d93217b5b317cdd98105772d5429b70ba87e7b209a131a2b6a939a0f3e");
    BOOST_TEST(owner_for_key(secret, "k1") ==
               "key:ad41e689b1b129aebcc2812e22ad682bb917f5720453a492452b3dc601fac9ee");
    BOOST_TEST(signed_download_url(secret, job, expires) ==
               "/api/export/" + job +
                   "/download?expires=1700000000&signature=" + sign_download(secret, job, expires));
}

BOOST_AUTO_TEST_CASE(a_link_is_good_until_it_expires) {
    const std::string sig = sign_download(secret, job, expires);
    BOOST_TEST(verify_download(secret, job, "1700000000", sig, before) == link_check::ok);
    BOOST_TEST(verify_download(secret, job, "1700000000", sig, expires - 1) == link_check::ok);
    BOOST_TEST(verify_download(secret, job, "1700000000", sig, expires) == link_check::expired);
    BOOST_TEST(verify_download(secret, job, "1700000000", sig, expires + 86400) == link_check::expired);
    // Upper-case hex is the same signature.
    std::string upper = sig;
    for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    BOOST_TEST(verify_download(secret, job, "1700000000", upper, before) == link_check::ok);
}

BOOST_AUTO_TEST_CASE(every_alteration_is_invalid) {
    const std::string sig = sign_download(secret, job, expires);
    std::string flipped = sig;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    std::string last_flipped = sig;
    last_flipped.back() = last_flipped.back() == '0' ? '1' : '0';
    struct item {
        std::string secret, job, expires, signature;
        const char* what;
    };
    const item cases[] = {
        {secret, other_job, "1700000000", sig, "another job's id"},
        {secret, job, "1700000001", sig, "a later expiry"},
        {secret, job, "1699999999", sig, "an earlier expiry"},
        {secret, job, "01700000000", sig, "the expiry with a leading zero"},
        {secret, job, "+1700000000", sig, "the expiry with a sign"},
        {secret, job, "1700000000 ", sig, "the expiry with a space"},
        {secret, job, "-1", sig, "a negative expiry"},
        {secret, job, "", sig, "no expiry"},
        {secret, job, "99999999999999999999", sig, "an expiry past int64"},
        {secret, job, "1700000000", flipped, "one hex digit changed"},
        {secret, job, "1700000000", last_flipped, "the last hex digit changed"},
        {secret, job, "1700000000", sign_download(secret, other_job, expires), "another job's signature"},
        {"another secret of 32 bytes......", job, "1700000000", sig, "another server's secret"},
        {secret, job, "1700000000", sig.substr(0, 63), "one digit short"},
        {secret, job, "1700000000", sig + "0", "one digit long"},
        {secret, job, "1700000000", sig.substr(0, 32), "half a signature"},
        {secret, job, "1700000000", "", "no signature"},
        {secret, job, "1700000000", sig.substr(0, 62) + "zz", "not hex"},
        {secret, job, "1700000000", sig.substr(0, 62) + "0x", "a stray x"},
        {secret, job, "1700000000", std::string(64, '0'), "all zeros"},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.what) {
            // Long before the expiry and long after: a bad link is invalid, never "expired".
            BOOST_TEST(verify_download(c.secret, c.job, c.expires, c.signature, before) ==
                       link_check::invalid);
            BOOST_TEST(verify_download(c.secret, c.job, c.expires, c.signature, expires + 1000) ==
                       link_check::invalid);
        }
}

BOOST_AUTO_TEST_CASE(owners_depend_on_key_and_secret) {
    BOOST_TEST(owner_for_key(secret, "k1") != owner_for_key(secret, "k2"));
    BOOST_TEST(owner_for_key(secret, "k1") != owner_for_key("another secret of 32 bytes......", "k1"));
    BOOST_TEST(owner_for_key(secret, "k1") == owner_for_key(secret, "k1"));
    const std::string owner = owner_for_key(secret, "k1");
    BOOST_TEST((owner.starts_with("key:") && owner.size() == 4 + 64));
}

BOOST_AUTO_TEST_CASE(legacy_owners_are_the_earlier_versions_names) {
    // RFC 4122 version 5 in the earlier versions' namespace, as Python's uuid.uuid5 computes it.
    BOOST_TEST(legacy_owner_for_key("k1") == "key:75d7e580-9d2f-5782-817e-870ed4793304");
    BOOST_TEST(legacy_owner_for_key("k1") != owner_for_key(secret, "k1"));
}

BOOST_AUTO_TEST_CASE(link_parameters_in_the_query) {
    BOOST_TEST(!find_download_link(""));
    BOOST_TEST(!find_download_link("a=1&b=2"));
    BOOST_TEST(!find_download_link("expiresx=1&xsignature=2"));
    auto link = find_download_link("expires=17&signature=ab");
    BOOST_TEST_REQUIRE(link.has_value());
    BOOST_TEST(link->expires == "17");
    BOOST_TEST(link->signature == "ab");
    link = find_download_link("signature=a%62&x=y&expires=%317");
    BOOST_TEST_REQUIRE(link.has_value());
    BOOST_TEST(link->expires == "17");
    BOOST_TEST(link->signature == "ab");
    link = find_download_link("expires=17");
    BOOST_TEST_REQUIRE(link.has_value());
    BOOST_TEST(link->signature.empty());
    link = find_download_link("signature=ab");
    BOOST_TEST_REQUIRE(link.has_value());
    BOOST_TEST(link->expires.empty());
    for (const char* repeated : {"expires=17&expires=17&signature=ab", "expires=17&signature=ab&signature=ab",
                                 "expires=&expires=17&signature=ab"})
        BOOST_TEST_CONTEXT(repeated) {
            link = find_download_link(repeated);
            BOOST_TEST_REQUIRE(link.has_value());
            BOOST_TEST((link->expires.empty() && link->signature.empty()));
        }
    link = find_download_link("expires=%zz&signature=ab");
    BOOST_TEST_REQUIRE(link.has_value());
    BOOST_TEST(link->expires.empty());
}

BOOST_AUTO_TEST_CASE(only_the_download_route_takes_links) {
    BOOST_TEST(download_path_id("/api/export/" + job + "/download").value_or("") == job);
    for (const char* path :
         {"/api/export/download", "/api/export//download", "/api/export/a/b/download", "/api/export/x/status",
          "/api/records/download", "/api/export/x/download/", "/x/api/export/y/download", "/api/export/x"})
        BOOST_TEST_CONTEXT(path) {
            BOOST_TEST(!download_path_id(path));
        }
}

BOOST_AUTO_TEST_SUITE_END()
