#pragma once
// --replica: the wait before a job reads rows from a streaming standby. The decision is the core's
// judge_replica; this asks the standby and waits, cancelled with the job's work, so that a cancel or a
// shutdown ends the wait at once while the lease keeper keeps renewing the lease.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"
#include "store/pg.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::engine::detail {

// Returns once the standby on `connection` has replayed past the job's WAL position (at once when no
// --replica is configured). Meanwhile the job's status says "waiting": "replica behind by ..."; the wait
// polls every 250 ms, backing off to 5 s, and counts its time (the job's and the metrics'). A job that
// recorded no position (created before it was recorded) takes the primary's position now: later is safe.
// Called after every connect: on one server replay only moves forward, so a connection that passed once
// stays past; a new connection may reach another server (a rebuilt standby, a proxy) and is asked again.
// Ends with operation_aborted when the job must stop, pg_error when the standby fails.
boost::asio::awaitable<void> async_wait_for_replica(engine_state& state, job_context& job,
                                                    async_connection& connection);

// At start-up, with --replica (nothing without): the server must be a standby (in recovery) of
// --database's cluster (the same system identifier, when the role may read it), and every served table
// must have there the columns and the key check it has on the primary. Throws std::runtime_error with a
// clear message when not: serve refuses to start. A standby that cannot be reached now is no reason to
// refuse (jobs wait for it): logged as a warning.
boost::asio::awaitable<void> async_check_replica(engine_state& state);

} // namespace pgexport::engine::detail
