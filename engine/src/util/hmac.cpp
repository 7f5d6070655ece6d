#include "util/hmac.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>

namespace pgexport::engine::detail {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

sha256_digest hmac_sha256(std::string_view key, std::string_view message) {
    sha256_digest out{};
    unsigned int length = 0;
    // HMAC() only fails for an unusable digest or a key longer than an int; neither can be met here.
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length) ||
        length != out.size())
        throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

std::string_view digest_bytes(const sha256_digest& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string to_hex(std::span<const unsigned char> bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

std::optional<sha256_digest> digest_from_hex(std::string_view hex) {
    sha256_digest out{};
    if (hex.size() != out.size() * 2)
        return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return out;
}

bool digests_equal(const sha256_digest& a, const sha256_digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace pgexport::engine::detail
