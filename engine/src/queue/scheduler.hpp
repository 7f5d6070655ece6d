#pragma once
// Claims jobs for this instance: while it has a free slot (max_concurrent), the oldest queued job of its
// tables, or a running one whose lease ran out (its instance died or was cut off), is claimed with
// FOR UPDATE SKIP LOCKED and run. Woken at once by this instance's new jobs, by a job's end, and by the
// notification other instances send with theirs (LISTEN pgexport_jobs); polls as a fallback.

#include "runtime/engine_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace pgexport::engine::detail {

class scheduler {
public:
    explicit scheduler(engine_state& state) : state_(state), timer_(state.executor) {}

    // Starts claiming (and listening for other instances' jobs).
    void start();
    // Looks for work now.
    void wake();
    // Claims nothing more; stops every running job (each stays resumable, its lease released) and waits
    // until all have stopped.
    boost::asio::awaitable<void> async_stop();

private:
    boost::asio::awaitable<void> claim_loop();
    boost::asio::awaitable<void> listen_loop();
    // `claimed_at`: when the claim was sent (the lease is counted from then).
    void launch(stored_job job, lease_tracker::clock::time_point claimed_at);

    engine_state& state_;
    boost::asio::steady_timer timer_;
    bool wake_pending_ = false;
    std::shared_ptr<event> stopped_;
    std::shared_ptr<event> listener_stopped_;
    async_connection* listener_ = nullptr;
    std::unique_ptr<boost::asio::steady_timer> listener_backoff_;
};

} // namespace pgexport::engine::detail
