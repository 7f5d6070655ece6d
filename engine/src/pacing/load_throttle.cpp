#include "pacing/load_throttle.hpp"

#include <algorithm>
#include <cstdio>

namespace pgexport::engine::detail {

namespace {

// Weight of the newest sample in the moving average. A single sample is noise (a web request that happened
// to be running); a third of it means that three busy samples in a row are needed to cross a threshold of
// one session from a quiet start, and that the average falls under it within a few samples of quiet.
constexpr double sample_weight = 0.3;

} // namespace

load_throttle::load_throttle(gentle_config config) : config_(config) {
    config_.min_share = std::clamp(config_.min_share, 0.01, 1.0);
}

void load_throttle::observe(load_sample load) {
    sessions_ += sample_weight * (std::max(0, load.busy_sessions) - sessions_);
}

bool load_throttle::busy() const {
    if (sessions_ > config_.max_sessions)
        return true;
    return config_.max_slowdown > 0 && slowdown_ >= config_.max_slowdown;
}

throttle_decision load_throttle::after_chunk(duration took, std::int64_t rows, load_sample load) {
    observe(load);
    slowdown_ = 1;
    if (rows > 0) {
        const double per_row = std::chrono::duration<double>(took).count() / static_cast<double>(rows);
        if (fastest_ <= 0 || per_row < fastest_)
            fastest_ = per_row;
        if (fastest_ > 0)
            slowdown_ = per_row / fastest_;
    }
    if (!busy()) {
        share_ = std::min(1.0, share_ * 2);
        return {};
    }
    share_ = std::max(config_.min_share, share_ / 2);
    const auto pause = std::chrono::duration_cast<duration>(took * (1 / share_ - 1));
    return {std::min<duration>(pause, config_.max_pause), reason()};
}

bool load_throttle::resume_now(load_sample load) {
    observe(load);
    // A slow chunk cannot be measured again without running one: a pause it called for runs its course.
    return !busy();
}

std::string load_throttle::reason() const {
    char text[160];
    if (sessions_ > config_.max_sessions) {
        std::snprintf(text, sizeof text, "throttled: database busy (%.1f other sessions active on average)",
                      sessions_);
        return text;
    }
    if (config_.max_slowdown > 0 && slowdown_ >= config_.max_slowdown) {
        std::snprintf(text, sizeof text,
                      "throttled: database slow (the last chunk took %.1fx the job's fastest)", slowdown_);
        return text;
    }
    return "";
}

} // namespace pgexport::engine::detail
