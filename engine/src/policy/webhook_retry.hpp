#pragma once
// What happens to a webhook after a try, pure (no I/O): delivered on a 2xx, stopped on a 410 (the receiver
// says the endpoint is gone for good), else tried again after an exponential backoff with jitter for as
// long as --webhook-retry-for allows, the last try at the window's end.

#include <chrono>
#include <optional>
#include <string>

namespace pgexport::engine::detail {

struct webhook_retry_config {
    std::chrono::milliseconds retry_for{std::chrono::hours(24)}; // from the event: no try starts later
    std::chrono::milliseconds first_delay{std::chrono::seconds(1)};
    std::chrono::milliseconds max_delay{std::chrono::hours(1)};
};

// One try's outcome: the receiver's HTTP status, or nullopt when there was no answer (unreachable, refused,
// timed out, or the address refused by the rule of policy/webhook_target).
struct webhook_try {
    std::optional<long> http_status;
};

enum class webhook_verdict {
    delivered, // a 2xx
    retry,     // after `delay`
    stop,      // no more tries: a 410, or the window is over
};

struct webhook_decision {
    webhook_verdict verdict = webhook_verdict::retry;
    std::chrono::milliseconds delay{0}; // retry: until the next try
    std::string reason;                 // stop: why, for the row's last error and the log
};

// The decision after try number `attempts` (1 for the first) of an event `age` old. The n-th retry waits
// first_delay * 2^(n-1), at most max_delay, times a factor in [0.5, 1) drawn from `unit_random` in [0, 1)
// (so that instances and receivers coming back do not meet in step); a wait that would pass the window is
// cut to its end, and a try at or past the end stops.
webhook_decision decide_webhook(const webhook_try& outcome, int attempts, std::chrono::milliseconds age,
                                const webhook_retry_config& config, double unit_random);

} // namespace pgexport::engine::detail
