#include <pgexport/webhooks.hpp>

#include "format/webhook_signature.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace pgexport::engine {

std::string make_webhook_secret() {
    std::array<unsigned char, 32> key{};
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
        throw std::runtime_error("cannot get random bytes for a webhook secret");
    return detail::make_webhook_secret(key);
}

std::optional<std::string> webhook_key_of(std::string_view secret) {
    return detail::webhook_key_of(secret);
}

} // namespace pgexport::engine
