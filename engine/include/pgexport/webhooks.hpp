#pragma once
// Notification secrets as Standard Webhooks write them: "whsec_" and the base64 of the key's bytes. The
// engine signs with the bytes (notify_config::key); a program reads them from the secret's text.

#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine {

// A new secret of 32 random bytes, "whsec_…". Throws std::runtime_error when no random bytes can be had.
std::string make_webhook_secret();

// The key of a secret's text ("whsec_<base64>", blanks and a final newline around it ignored), or
// nullopt when it is not one, or its key is not 24 to 64 bytes long.
std::optional<std::string> webhook_key_of(std::string_view secret);

} // namespace pgexport::engine
