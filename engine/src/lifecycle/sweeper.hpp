#pragma once
// The retention sweeper. One pass:
//  1. completed jobs of this instance's tables whose retention has run out become expired (a batch per
//     statement, UPDATE ... RETURNING), then their files are deleted;
//  2. records of failed and cancelled jobs older than the retention, of expired ones older than twice
//     that, are removed;
//  3. files of ours in the data directory whose job is gone, or has ended without such a file, are removed
//     (sweep_policy's is_orphan). The directory is listed first and the statuses read afterwards: a job's
//     row is inserted before its file is created, so a job being created now never loses its file.
// Any number of instances may sweep one database and one data directory at once: the statements skip the
// rows another instance is sweeping and are safe to repeat, and removing a file twice is harmless. A pass
// that meets an error (the database away) stops there, and the next one starts over; nothing is removed
// on a guess. Runs on the engine's executor; its statements on the queue thread, its file work on the pool.

#include "runtime/engine_state.hpp"

#include <pgexport/engine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace pgexport::engine::detail {

class sweeper {
public:
    explicit sweeper(engine_state& state) : state_(state), timer_(state.executor) {}

    // A pass now, then one every interval (engine_config::sweep_interval) until async_stop.
    void start();
    // One pass. Throws (unavailable_error when the database is away) at the first step that fails; what
    // the steps before it did stays done and counted in the engine's stats.
    boost::asio::awaitable<sweep_report> async_run_once();
    // Starts no further pass and waits for the one under way.
    boost::asio::awaitable<void> async_stop();

private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<void> async_expire(sweep_report& report);
    boost::asio::awaitable<void> async_remove_records(sweep_report& report);
    boost::asio::awaitable<void> async_remove_orphans(sweep_report& report);

    engine_state& state_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<event> stopped_;
    bool stopping_ = false;
};

} // namespace pgexport::engine::detail
