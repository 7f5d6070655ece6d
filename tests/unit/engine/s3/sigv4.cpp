// The SigV4 signer against the S3 reference's published examples (the presigned URL of "Authenticating
// Requests: Using Query Parameters": examplebucket/test.txt, 20130524T000000Z, 86400 s; and two requests
// signed in their Authorization header), and its encoding rules.

#include "s3/sigv4.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

using namespace pgexport::engine::detail;

namespace {

const sigv4_credentials aws_example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"};

std::chrono::system_clock::time_point may_24_2013() {
    return std::chrono::system_clock::from_time_t(1369353600); // 2013-05-24T00:00:00Z
}

} // namespace

BOOST_AUTO_TEST_CASE(the_published_example) {
    const std::string url = presign_url(aws_example, {"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt",
                                                      may_24_2013(), std::chrono::seconds(86400)});
    BOOST_TEST(url == "https://examplebucket.s3.amazonaws.com/test.txt"
                      "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// The header-signed examples of the same reference ("Signature Calculations for the Authorization Header"):
// GET Object with a Range, and GET Bucket (ListObjects) with a query.
BOOST_AUTO_TEST_CASE(the_published_header_examples) {
    const std::string empty = sha256_hex("");
    const signed_headers object = sign_request(
        aws_example, {"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt", "", empty, may_24_2013(),
                      {{"range", "bytes=0-9"}}});
    BOOST_TEST(object.authorization ==
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
               "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
               "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    BOOST_TEST(object.amz_date == "20130524T000000Z");
    const signed_headers list = sign_request(
        aws_example, {"GET", "https://examplebucket.s3.amazonaws.com", "/", "max-keys=2&prefix=J", empty, may_24_2013()});
    BOOST_TEST(list.authorization.ends_with(
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

BOOST_AUTO_TEST_CASE(every_input_changes_the_signature) {
    const presign_params base{"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt", may_24_2013(),
                              std::chrono::seconds(86400)};
    const std::string reference = presign_url(aws_example, base);
    auto signature = [](const std::string& url) { return url.substr(url.rfind('=') + 1); };
    presign_params other_path = base;
    other_path.path = "/test.txu";
    presign_params other_host = base;
    other_host.origin = "https://examplebucket.s3.amazonaws.com:443";
    presign_params later = base;
    later.now += std::chrono::seconds(1);
    presign_params shorter = base;
    shorter.expires = std::chrono::seconds(86399);
    sigv4_credentials other_region = aws_example;
    other_region.region = "eu-west-1";
    for (const auto& url : {presign_url(aws_example, other_path), presign_url(aws_example, other_host),
                            presign_url(aws_example, later), presign_url(aws_example, shorter),
                            presign_url(other_region, base)}) {
        BOOST_TEST_CONTEXT(url) { BOOST_TEST(signature(url) != signature(reference)); }
    }
}

// Temporary credentials: the session token is signed, in the query of a presigned URL and as the
// x-amz-security-token header of a request. The signatures were computed independently (Python's hmac and
// hashlib, following the reference's canonical request) for the examples above with a token added.
BOOST_AUTO_TEST_CASE(a_session_token_is_signed) {
    sigv4_credentials temporary = aws_example;
    temporary.session_token = "FQoGZXIvYXdzEXAMPLE/token+with=chars";
    const std::string url = presign_url(temporary, {"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt",
                                                    may_24_2013(), std::chrono::seconds(86400)});
    // In the canonical query's order (Security before SignedHeaders), and signed with it.
    BOOST_TEST(url.ends_with("&X-Amz-Expires=86400&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2Ftoken%2Bwith%3Dchars"
                             "&X-Amz-SignedHeaders=host"
                             "&X-Amz-Signature=4f068e766c30fa2f6fa6533f1011e8068b0166cfdc3065a3576123885d2ed3ba"));
    const signed_headers h = sign_request(temporary, {"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt", "",
                                                      sha256_hex(""), may_24_2013()});
    BOOST_TEST(h.security_token == temporary.session_token);
    BOOST_TEST(h.authorization.ends_with(
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        "Signature=352332178630b4caa5cd7dc07c5fb1a46043afdd1b88f80790a25697cb37c463"));
    BOOST_TEST(sign_request(aws_example, {"GET", "https://examplebucket.s3.amazonaws.com", "/test.txt", "",
                                          sha256_hex(""), may_24_2013()})
                   .security_token.empty());
}

BOOST_AUTO_TEST_CASE(path_style_keys_are_encoded_once) {
    const std::string url = presign_url(aws_example, {"GET", "http://127.0.0.1:9000", "/bucket/exports/a b+c.csv",
                                                      may_24_2013(), std::chrono::seconds(60)});
    BOOST_TEST(url.starts_with("http://127.0.0.1:9000/bucket/exports/a%20b%2Bc.csv?X-Amz-Algorithm="));
}

BOOST_AUTO_TEST_CASE(encoding_and_helpers) {
    BOOST_TEST(sigv4_encode("AZaz09-_.~", false) == "AZaz09-_.~");
    BOOST_TEST(sigv4_encode("a/b c", false) == "a%2Fb%20c");
    BOOST_TEST(sigv4_encode("a/b c", true) == "a/b%20c");
    BOOST_TEST(sigv4_encode("\xc3\xa9", true) == "%C3%A9");
    BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(amz_timestamp(may_24_2013()) == "20130524T000000Z");
}
