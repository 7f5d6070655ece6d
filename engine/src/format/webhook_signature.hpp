#pragma once
// Standard Webhooks' signatures, pure (no I/O): the whsec_ secret, and the v1 signature of one try,
// HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" under the secret's bytes, in base64. Receivers
// verify it with the specification's own libraries (standardwebhooks on npm, PyPI, crates.io, …).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// RFC 4648 base64 with padding.
std::string base64_encode(std::span<const unsigned char> bytes);
std::string base64_encode(std::string_view bytes);
// The bytes of padded base64 text, or nullopt when it is not that.
std::optional<std::string> base64_decode(std::string_view text);

inline constexpr std::string_view webhook_secret_prefix = "whsec_";
// Standard Webhooks' bounds on a symmetric secret's bytes.
inline constexpr std::size_t min_webhook_key_bytes = 24;
inline constexpr std::size_t max_webhook_key_bytes = 64;

// "whsec_" and the base64 of `key`.
std::string make_webhook_secret(std::span<const unsigned char> key);
// The key of a secret "whsec_<base64>" (surrounding blanks and a final newline trimmed), or nullopt when it
// is not one, or its key is shorter than min_webhook_key_bytes or longer than max_webhook_key_bytes.
std::optional<std::string> webhook_key_of(std::string_view secret);

// The webhook-signature header's value for one try: "v1,<base64 HMAC-SHA256>".
std::string webhook_signature(std::string_view key, std::string_view id, std::int64_t timestamp,
                              std::string_view body);

} // namespace pgexport::engine::detail
