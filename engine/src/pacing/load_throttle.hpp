#pragma once
// --gentle's controller: from the load sampled after each chunk (other sessions at work) and the chunk's
// own pace, how long to pause before the next chunk. Sans-I/O: the engine samples and waits, this decides;
// tests/unit/engine/load_throttle.cpp replays recorded load traces through it.
//
// It keeps a share of the time the export may run. A busy sample halves the share (down to min_share),
// a quiet one doubles it (up to 1): additive back-off would take too long to give way to a burst of work,
// and a share that only recovered slowly would keep a quiet database waiting. The pause after a chunk is
// what makes the chunk that share of the time: took * (1/share - 1), at most max_pause. During a pause
// the load is sampled again; the pause ends as soon as the database is no longer busy.

#include <pgexport/protection.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace pgexport::engine::detail {

// One look at the database's load.
struct load_sample {
    int busy_sessions = 0; // other sessions in a statement or in a transaction now (not pgexport's)
};

struct throttle_decision {
    std::chrono::steady_clock::duration pause{}; // zero: go on at once
    std::string reason;                          // for status's "waiting" while paused
};

class load_throttle {
public:
    using duration = std::chrono::steady_clock::duration;

    explicit load_throttle(gentle_config config);

    // After a chunk that read `rows` rows in `took` (its own work: time spent under --max-rate excluded),
    // with the load sampled right after it: the pause before the next chunk.
    throttle_decision after_chunk(duration took, std::int64_t rows, load_sample load);

    // During a pause, with a new sample: true when the database is no longer busy and the pause should end
    // now. reason() follows the new sample. A pause called for by a slow chunk is not ended early: only
    // another chunk can tell whether it is still slow.
    bool resume_now(load_sample load);

    // Why the job is paused now, from the latest samples ("" when the database is not busy).
    std::string reason() const;

    double share() const noexcept { return share_; }
    double average_sessions() const noexcept { return sessions_; }

private:
    void observe(load_sample load);
    bool busy() const;

    gentle_config config_;
    double share_ = 1;    // of the time the export may run
    double sessions_ = 0; // moving average of busy_sessions
    double fastest_ = 0;  // the job's fastest chunk, seconds per row; 0 before the first chunk
    double slowdown_ = 1; // the latest chunk's seconds per row over the fastest
};

} // namespace pgexport::engine::detail
