#pragma once
// HMAC-SHA256 (RFC 2104) and the hex forms of its digest: the one keyed hash of the project, for SigV4
// signatures (s3/sigv4) and the HTTP layer's signed download links and key owners (link_signing).
// Pure, no I/O (OpenSSL's libcrypto).

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

using sha256_digest = std::array<unsigned char, 32>;

// HMAC-SHA256 of `message` under `key` (any length; a key longer than SHA-256's 64-byte block is hashed
// first, as RFC 2104 says). Throws std::runtime_error only if libcrypto itself fails.
sha256_digest hmac_sha256(std::string_view key, std::string_view message);

// The digest's bytes as text, to key the next HMAC of a chain (SigV4's signing key). Views `digest`.
std::string_view digest_bytes(const sha256_digest& digest);

// `bytes` as lower-case hex, two digits a byte.
std::string to_hex(std::span<const unsigned char> bytes);

// The digest written by to_hex (either case accepted), or nullopt unless `hex` is exactly 64 hex digits.
std::optional<sha256_digest> digest_from_hex(std::string_view hex);

// Whether two digests are equal, in time that does not depend on where they differ (for signatures).
bool digests_equal(const sha256_digest& a, const sha256_digest& b);

} // namespace pgexport::engine::detail
