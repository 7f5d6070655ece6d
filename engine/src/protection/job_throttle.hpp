#pragma once
// What holds a job back on purpose: --max-rate inside a chunk (the chunk's sink stops reading the
// database's socket while the job is over its rate: backpressure, nothing is buffered) and --gentle
// between chunks (a pause while the database is busy). The decisions are the pure token_bucket and
// load_throttle; this drives them on the engine's executor. Every wait is cancelled with the job's work
// (job_stop: the coroutine's cancellation slot), so a cancel or a shutdown ends a wait at once; the lease
// keeper renews the lease meanwhile. While a job waits, its status says why ("waiting"), and the time is
// counted for the job and in the metrics.
// A wait for a streaming replica to catch up (--replica) belongs here as well: before each chunk.

#include "pacing/load_throttle.hpp"
#include "pacing/token_bucket.hpp"
#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>

namespace pgexport::engine::detail {

class job_throttle {
public:
    using clock = std::chrono::steady_clock;

    // For one attempt of job `job_id`, with the engine's --max-rate and --gentle (either may be off);
    // `waits` is where the job says why it waits. A parallel job's slice has a throttle of its own with a
    // `share` of the job's rate (1 / the slices).
    job_throttle(engine_state& state, std::string job_id, job_waits& waits, const job_stop& stop, std::size_t share);

    // Counts `n` bytes written to the file against --max-rate. True when the job is over its rate: the
    // caller must await async_rate_wait() before it reads more rows.
    bool take(std::size_t n) noexcept { return bucket_ && bucket_->take(n); }

    // Waits until the job is within its rate again (at once when it is). Throws operation_aborted when the job must
    // stop (cancelled, lease lost, shutting down).
    boost::asio::awaitable<void> async_rate_wait();

    // After a chunk that read `rows` rows in `took`: under --gentle, samples the database's load on
    // `connection` (idle between chunks) and pauses while the database is busy. Throws stop_job as
    // async_rate_wait, pg_error when a sample fails.
    boost::asio::awaitable<void> async_between_chunks(async_connection& connection, clock::duration took,
                                                      std::int64_t rows);

    // Time spent in rate waits so far: a chunk's own pace is its time less what it spent here.
    clock::duration rate_waited() const noexcept { return rate_waited_; }

private:
    enum class cause { max_rate, gentle };
    boost::asio::awaitable<void> async_sleep(clock::duration d);
    boost::asio::awaitable<load_sample> async_sample(async_connection& connection);

    // Sets the job's "waiting" for its life and counts the time it lasted.
    struct waiting_scope {
        waiting_scope(job_throttle& t, cause c, std::string reason);
        ~waiting_scope();
        job_throttle& throttle;
        cause why;
        clock::time_point start;
    };

    engine_state& state_;
    std::string job_id_;
    job_waits& waits_;
    const job_stop& stop_;
    std::optional<token_bucket> bucket_;
    std::optional<load_throttle> gentle_;
    std::string rate_reason_;
    clock::duration rate_waited_{};
    bool paused_last_chunk_ = false;
    clock::duration paused_in_row_{};
};

} // namespace pgexport::engine::detail
