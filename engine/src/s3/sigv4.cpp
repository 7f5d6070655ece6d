#include "s3/sigv4.hpp"

#include <pgexport/shared/hmac.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <openssl/evp.h>
#include <span>
#include <stdexcept>

namespace pgexport::engine::detail {

namespace {

std::string authority_of(std::string_view origin) {
    const auto scheme = origin.find("://");
    return std::string(scheme == std::string_view::npos ? origin : origin.substr(scheme + 3));
}

// The signature of `canonical` (a canonical request) made at `timestamp`.
std::string signature_of(const sigv4_credentials& credentials, const std::string& timestamp,
                         const std::string& canonical, std::string& scope) {
    const std::string date = timestamp.substr(0, 8);
    scope = date;
    scope.append("/").append(credentials.region).append("/s3/aws4_request");
    std::string to_sign = "AWS4-HMAC-SHA256\n";
    to_sign.append(timestamp).append("\n");
    to_sign.append(scope).append("\n");
    to_sign.append(sha256_hex(canonical));

    std::string secret = "AWS4";
    secret.append(credentials.secret_key);
    const sha256_digest date_key = hmac_sha256(secret, date);
    const sha256_digest region_key = hmac_sha256(digest_bytes(date_key), credentials.region);
    const sha256_digest service_key = hmac_sha256(digest_bytes(region_key), "s3");
    const sha256_digest signing_key = hmac_sha256(digest_bytes(service_key), "aws4_request");
    return to_hex(hmac_sha256(digest_bytes(signing_key), to_sign));
}

} // namespace

signed_headers sign_request(const sigv4_credentials& credentials, const request_to_sign& request) {
    signed_headers out;
    out.amz_date = amz_timestamp(request.now);
    out.content_sha256 = request.payload_sha256;
    std::vector<std::pair<std::string, std::string>> headers = request.headers;
    headers.emplace_back("host", authority_of(request.origin));
    headers.emplace_back("x-amz-content-sha256", out.content_sha256);
    headers.emplace_back("x-amz-date", out.amz_date);
    if (!credentials.session_token.empty()) {
        out.security_token = credentials.session_token;
        headers.emplace_back("x-amz-security-token", out.security_token);
    }
    std::sort(headers.begin(), headers.end());
    std::string canonical = request.method;
    canonical.append("\n").append(sigv4_encode(request.path, true));
    canonical.append("\n").append(request.query).append("\n");
    std::string names;
    for (const auto& [name, value] : headers) {
        canonical.append(name).append(":").append(value).append("\n");
        if (!names.empty())
            names.append(";");
        names.append(name);
    }
    canonical.append("\n").append(names);
    canonical.append("\n").append(out.content_sha256);
    std::string scope;
    const std::string signature = signature_of(credentials, out.amz_date, canonical, scope);
    out.authorization = "AWS4-HMAC-SHA256 Credential=";
    out.authorization.append(credentials.access_key).append("/").append(scope);
    out.authorization.append(", SignedHeaders=").append(names);
    out.authorization.append(", Signature=").append(signature);
    return out;
}

std::string sigv4_encode(std::string_view text, bool keep_slash) {
    constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '_' || c == '.' || c == '~';
        if (unreserved || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0xf];
        }
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int length = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr))
        throw std::runtime_error("SHA-256 failed");
    return to_hex(std::span(out.data(), length));
}

std::string amz_timestamp(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 32> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), "%Y%m%dT%H%M%SZ", &utc);
    return std::string(text.data(), n);
}

std::string presign_url(const sigv4_credentials& credentials, const presign_params& params) {
    const std::string timestamp = amz_timestamp(params.now);
    std::string credential = credentials.access_key;
    credential.append("/").append(timestamp.substr(0, 8)).append("/").append(credentials.region);
    credential.append("/s3/aws4_request");

    // The query's parameters in byte order of their (encoded) names, as the canonical request needs them.
    std::vector<std::pair<std::string, std::string>> parameters = {
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Credential", sigv4_encode(credential, false)},
        {"X-Amz-Date", timestamp},
        {"X-Amz-Expires", std::to_string(params.expires.count())},
        {"X-Amz-SignedHeaders", "host"}};
    if (!credentials.session_token.empty())
        parameters.emplace_back("X-Amz-Security-Token", sigv4_encode(credentials.session_token, false));
    for (const auto& [name, value] : params.query)
        parameters.emplace_back(sigv4_encode(name, false), sigv4_encode(value, false));
    std::sort(parameters.begin(), parameters.end());
    std::string query;
    for (const auto& [name, value] : parameters) {
        if (!query.empty())
            query.append("&");
        query.append(name).append("=").append(value);
    }

    const std::string path = sigv4_encode(params.path, true);
    std::string canonical = params.method;
    canonical.append("\n").append(path);
    canonical.append("\n").append(query);
    canonical.append("\nhost:").append(authority_of(params.origin)).append("\n");
    canonical.append("\nhost");
    canonical.append("\nUNSIGNED-PAYLOAD");
    std::string scope;
    const std::string signature = signature_of(credentials, timestamp, canonical, scope);

    std::string url = params.origin;
    url.append(path).append("?").append(query);
    url.append("&X-Amz-Signature=").append(signature);
    return url;
}

} // namespace pgexport::engine::detail
