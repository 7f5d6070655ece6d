#pragma once
// A snapshot job's snapshot on this instance ("consistency": "snapshot", docs/consistency.md). When the
// job starts here, a session of its own (on --replica when configured) opens a REPEATABLE READ READ ONLY
// transaction, locks the relation as a COPY would, exports its snapshot and records it in the job under
// the lease; every chunk then imports it (export/chunk_transaction). The session is the job's
// (job_context::snapshot): kept alive beside the chunks, closed when the rows are read, when it is lost,
// and when the job ends or stops here.
//
// A snapshot recorded before, whose session is gone (kill -9, a takeover, a database restart), is not
// held any more: the job takes a new one and asks the database whether the rows already written are
// exactly the same tuples under it (snapshot/snapshot_resume.hpp); if so it goes on under the new one,
// otherwise it starts over under it. The new snapshot and the checkpoint it was checked against are
// recorded in one write before any chunk is read under it.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <type_traits>

namespace pgexport::engine::detail {

// The held snapshot passed --max-snapshot-age: the job fails with code snapshot_too_old.
class snapshot_too_old_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
inline constexpr std::string_view snapshot_too_old_code = "snapshot_too_old";

// A chunk could not import the job's snapshot: its session is gone. A transient failure: the next attempt
// takes a new snapshot and checks the rows written against the recorded one.
class snapshot_lost_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Makes sure a snapshot job holds its snapshot here before it reads rows; nothing for a chunked job. Held
// already: only its age is checked (snapshot_too_old_error). Otherwise takes one (after the --replica
// standby has replayed past the job's creation), decides from the rows written under the recorded one
// whether the job goes on or starts over (job.progress, job.slices reset, restarts counted), extends the
// job's end to the snapshot's highest key, and records it all under the lease. Ends with operation_aborted
// when the lease is gone; pg_error and unavailable_error as the database fails (the session is then not
// held, and the next attempt tries again).
boost::asio::awaitable<void> async_hold_snapshot(engine_state& state, job_context& job);

// The held snapshot is gone (its session ended, or a chunk could not import it): closes the session, so
// that no chunk imports it any more, and logs job_snapshot_lost with `reason` (once: only while it was
// still taken for held).
void release_lost_snapshot(job_context& job, const std::string& reason);

// Keeps the held snapshot while chunks are read: a statement on its session every job.snapshot.keepalive
// (idle_in_transaction_session_timeout never ends it), and --max-snapshot-age. Runs until cancelled (ends
// with operation_aborted); on a lost session (pg_error) or past the age (snapshot_too_old_error) it
// closes the session first, so that no chunk imports the snapshot any more.
boost::asio::awaitable<void> async_keep_snapshot(engine_state& state, job_context& job);

namespace snapshot_detail {

// `reading` as a task of its own that a cancellation does not end at its next wait: the stream's and the
// slices' loops end by themselves after waiting for their checkpoint and write in flight.
template <class T> boost::asio::awaitable<T> uninterrupted(boost::asio::awaitable<T> reading) {
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    co_return co_await std::move(reading);
}

// The group's outcome: the keeper's failure when it ended first (the session lost, the age passed), else
// the reading's; once the rows are read, the snapshot is released.
inline void settle(job_context& job, std::size_t first, const std::exception_ptr& read_error,
                   const std::exception_ptr& keep_error) {
    if (first == 1 && keep_error)
        std::rethrow_exception(keep_error);
    if (read_error)
        std::rethrow_exception(read_error);
    job.snapshot.release();
}

} // namespace snapshot_detail

// Runs `reading` (a job's chunks: one stream, or the slices) with the held snapshot kept beside it
// (async_keep_snapshot), as two children of one parallel group: whichever ends first cancels the other.
// Once the rows are read the snapshot is released (it is not needed to publish). A failure of the keeper
// (the session lost, the age passed) is the attempt's; else the reading's. Without a held snapshot (a
// chunked job), just `reading`.
template <class T>
boost::asio::awaitable<T> async_read_under_snapshot(engine_state& state, job_context& job,
                                                    boost::asio::awaitable<T> reading) {
    namespace asio = boost::asio;
    if (!job.snapshot.held())
        co_return co_await std::move(reading);
    auto group = asio::experimental::make_parallel_group(
        asio::co_spawn(state.executor, snapshot_detail::uninterrupted(std::move(reading)), asio::deferred),
        asio::co_spawn(state.executor, async_keep_snapshot(state, job), asio::deferred));
    if constexpr (std::is_void_v<T>) {
        auto [order, read_error, keep_error] =
            co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        snapshot_detail::settle(job, order[0], read_error, keep_error);
    } else {
        auto [order, read_error, value, keep_error] =
            co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        snapshot_detail::settle(job, order[0], read_error, keep_error);
        co_return value;
    }
}

} // namespace pgexport::engine::detail
