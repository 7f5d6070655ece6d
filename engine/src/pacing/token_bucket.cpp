#include "pacing/token_bucket.hpp"

#include <algorithm>

namespace pgexport::engine::detail {

token_bucket::token_bucket(double rate, double burst, clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(burst), refilled_(now) {}

bool token_bucket::take(std::uint64_t n) noexcept {
    tokens_ -= static_cast<double>(n);
    if (tokens_ < 0)
        refilling_ = true;
    return tokens_ < 0;
}

void token_bucket::refill(clock::time_point now) noexcept {
    if (now <= refilled_)
        return;
    const double seconds = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(burst_, tokens_ + seconds * rate_);
    refilled_ = now;
}

token_bucket::clock::duration token_bucket::wait_time(clock::time_point now) noexcept {
    refill(now);
    if (!refilling_ || tokens_ >= burst_ / 2) {
        refilling_ = false;
        return clock::duration::zero();
    }
    const double seconds = (burst_ / 2 - tokens_) / rate_;
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds)) +
           clock::duration(1); // rounding down must not leave the bucket a hair short of the mark
}

double default_burst(double rate) noexcept {
    return std::max(rate / 10, 16.0 * 1024);
}

} // namespace pgexport::engine::detail
