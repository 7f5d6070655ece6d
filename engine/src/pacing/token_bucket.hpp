#pragma once
// A token bucket over bytes, for --max-rate: `rate` tokens a second flow in, at most `burst` are saved up,
// and each byte written takes one. Taking never blocks and may run the bucket into debt; the caller then
// waits what wait_time() says before it reads on. Sans-I/O: the clock is passed in, so tests drive it.

#include <chrono>
#include <cstdint>

namespace pgexport::engine::detail {

class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    // A full bucket at `now`. `rate` (tokens a second) and `burst` must be positive.
    token_bucket(double rate, double burst, clock::time_point now);

    // Takes n tokens without reading the clock (it is called once a row). True when the balance, as of
    // the last refill, is now below zero: the caller should call wait_time() before taking more.
    bool take(std::uint64_t n) noexcept;

    // Refills for the time since the last refill, then answers how long to wait: once the bucket went into
    // debt, until half a burst is saved up again; zero when it did not, or has saved that much since.
    // Waiting for half a burst, not for the first token, spaces the waits (one per half burst, not one
    // per row) without changing the average rate.
    clock::duration wait_time(clock::time_point now) noexcept;

    // Tokens as of the last refill; negative in debt.
    double balance() const noexcept { return tokens_; }
    double rate() const noexcept { return rate_; }

private:
    void refill(clock::time_point now) noexcept;

    double rate_;
    double burst_;
    double tokens_;
    clock::time_point refilled_;
    bool refilling_ = false; // went into debt, not yet back to half a burst
};

// The burst --max-rate uses: a tenth of a second's worth, at least 16 KiB, so a wait comes about every
// 50 ms whatever the rate.
double default_burst(double rate) noexcept;

} // namespace pgexport::engine::detail
