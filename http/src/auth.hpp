#pragma once
// API keys: who is asking. Pure: no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

struct auth_result {
    enum class outcome {
        open,   // no keys are configured: anyone may call, and sees every job
        owner,  // a configured key: the caller sees the jobs created with it
        denied, // keys are configured and this request has none, or a wrong one
    };
    outcome kind = outcome::open;
    std::string owner; // with outcome::owner: a name derived from the key, never the key itself

    // The engine's owner filter: nullopt sees every job.
    std::optional<std::string> owner_filter() const {
        return kind == outcome::owner ? std::optional<std::string>(owner) : std::nullopt;
    }
};

class authenticator {
public:
    // Owners are HMACs of the keys under `secret` (link_signing.hpp); with keys, the secret must have 32
    // bytes at least (std::invalid_argument otherwise).
    authenticator(std::vector<std::string> keys, std::string_view secret);

    bool keys_configured() const { return !keys_.empty(); }

    // From the Authorization header's value (nullopt when absent): "Bearer <key>".
    auth_result check(std::optional<std::string_view> authorization) const;

private:
    std::vector<std::string> keys_;
    std::vector<std::string> owners_;
};

// Compares without an early exit, so the time taken does not tell how much of a key was right.
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace pgexport::http
