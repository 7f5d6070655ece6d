#include "auth.hpp"

#include "link_signing.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <stdexcept>

namespace pgexport::http {

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

authenticator::authenticator(std::vector<std::string> keys, std::string_view secret) : keys_(std::move(keys)) {
    // A job's owner is an HMAC of its key under the secret, so that keys are never stored and an owner
    // name cannot be computed without the secret.
    if (!keys_.empty() && secret.size() < 32)
        throw std::invalid_argument("API keys need a secret of at least 32 bytes (--secret-file)");
    for (const auto& key : keys_)
        owners_.push_back(owner_for_key(secret, key));
}

auth_result authenticator::check(std::optional<std::string_view> authorization) const {
    if (keys_.empty())
        return {};
    const auth_result denied{auth_result::outcome::denied, {}};
    if (!authorization)
        return denied;
    std::string_view value = *authorization;
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size() || !boost::beast::iequals(value.substr(0, scheme.size()), scheme))
        return denied;
    value.remove_prefix(scheme.size());
    // Every key is compared, so the time taken does not tell which one matched.
    std::optional<std::size_t> match;
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (constant_time_equal(value, keys_[i]))
            match = i;
    if (!match)
        return denied;
    return {auth_result::outcome::owner, owners_[*match]};
}

} // namespace pgexport::http
