#pragma once
// AWS Signature Version 4 for S3: presigned URLs (query-string authentication) and signed requests
// (the Authorization header). Pure, no I/O. (libcurl 7.88's own CURLOPT_AWS_SIGV4 leaves the query
// uncanonicalized, so S3's `?uploads` would not verify: one signer, here, for both.) See "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" in the S3 reference.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgexport::engine::detail {

struct sigv4_credentials {
    std::string access_key{};
    std::string secret_key{};
    std::string region = "us-east-1";
    // Temporary credentials' session token (AWS_SESSION_TOKEN): signed as x-amz-security-token in a
    // request's headers, as X-Amz-Security-Token in a presigned URL's query. Empty: none.
    std::string session_token{};
};

struct presign_params {
    std::string method = "GET";
    std::string origin{}; // scheme://host[:port], no trailing slash: the host signed is its authority
    std::string path{};   // the object's path, unencoded, starting with '/': "/bucket/key" (path style)
    std::chrono::system_clock::time_point now{};
    std::chrono::seconds expires{3600}; // at most 7 days for S3
    // More query parameters to sign (response-content-disposition...), unencoded.
    std::vector<std::pair<std::string, std::string>> query{};
};

// A request signed in its Authorization header, as libcurl sends it: the headers to add.
struct signed_headers {
    std::string authorization{};
    std::string amz_date{};
    std::string content_sha256{};
    std::string security_token{}; // x-amz-security-token's value; empty: no such header
};
struct request_to_sign {
    std::string method = "GET";
    std::string origin{};         // scheme://host[:port]
    std::string path{};           // unencoded, starting with '/'
    std::string query{};          // canonical already: encoded, names in byte order, "a=&b=1" ("" for none)
    std::string payload_sha256{}; // sha256_hex of the body
    std::chrono::system_clock::time_point now{};
    // More headers to sign (sent by the caller as given): lowercase names, values trimmed.
    std::vector<std::pair<std::string, std::string>> headers{};
};
// Signs host, x-amz-content-sha256, x-amz-date, x-amz-security-token (with a session token) and `headers`.
signed_headers sign_request(const sigv4_credentials& credentials, const request_to_sign& request);

// The URL, signed for `params.expires` from `params.now`, with only the host header signed and the payload
// unsigned (UNSIGNED-PAYLOAD), as S3 expects of presigned URLs.
std::string presign_url(const sigv4_credentials& credentials, const presign_params& params);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, '/' kept when `keep_slash`.
std::string sigv4_encode(std::string_view text, bool keep_slash);

// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);

// 20130524T000000Z: SigV4's timestamp form.
std::string amz_timestamp(std::chrono::system_clock::time_point t);

} // namespace pgexport::engine::detail
