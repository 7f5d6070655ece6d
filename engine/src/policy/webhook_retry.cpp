#include "policy/webhook_retry.hpp"

#include <algorithm>
#include <cmath>

namespace pgexport::engine::detail {

webhook_decision decide_webhook(const webhook_try& outcome, int attempts, std::chrono::milliseconds age,
                                const webhook_retry_config& config, double unit_random) {
    using std::chrono::milliseconds;
    if (outcome.http_status && *outcome.http_status >= 200 && *outcome.http_status < 300)
        return {webhook_verdict::delivered, milliseconds(0), ""};
    if (outcome.http_status == 410)
        return {webhook_verdict::stop, milliseconds(0), "the receiver answered 410 Gone: no more tries"};
    const milliseconds left = config.retry_for - age;
    if (left <= milliseconds(0))
        return {webhook_verdict::stop, milliseconds(0),
                "gave up after " + std::to_string(attempts) + (attempts == 1 ? " try" : " tries") + " in " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config.retry_for).count()) +
                    " s (--webhook-retry-for)"};
    // 2^(attempts-1) in doubles: no overflow however many tries, and capped right after.
    const double exponential =
        static_cast<double>(config.first_delay.count()) * std::pow(2.0, std::max(0, attempts - 1));
    const double capped = std::min(exponential, static_cast<double>(config.max_delay.count()));
    const double jittered = capped * (0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0));
    const milliseconds delay(static_cast<milliseconds::rep>(jittered));
    return {webhook_verdict::retry, std::min(delay, left), ""};
}

} // namespace pgexport::engine::detail
