#pragma once
// Following one job's changes without polling: export_engine::watch hands out a job_watch that wakes at
// each checkpoint of the job while this instance runs it, and at each change of its state wherever it
// runs (claimed, completed, failed, cancelled, expired: every instance sends them through the database's
// notifications). The progress of a job another instance runs sends no notice here: a caller that wants it
// reads the status again when a wait times out.
//
// Used on the engine's executor only. A watch may outlive the engine object: it then only times out.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>

namespace pgexport::engine {

enum class watch_outcome {
    changed,   // the job changed (or may have) since the watch was made or the last wait returned
    timed_out, // nothing was noticed in time
    stopping,  // the engine shuts down: no more notices will come
};

class export_engine;

class job_watch {
public:
    job_watch(job_watch&&) noexcept;
    job_watch& operator=(job_watch&&) noexcept;
    ~job_watch();

    // Waits until the job changes, `timeout` passes or the engine shuts down. A change that happened
    // while nobody waited is reported by the next wait at once, so none is missed between two waits.
    // Throws boost::system::system_error (operation_aborted) when the awaiting coroutine is cancelled.
    boost::asio::awaitable<watch_outcome> async_wait(std::chrono::steady_clock::duration timeout);

private:
    friend class export_engine; // export_engine::watch makes them
    struct impl;
    explicit job_watch(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> impl_;
};

} // namespace pgexport::engine
