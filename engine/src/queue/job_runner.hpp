#pragma once
// Runs one claimed job to its end: the lease keeper and the attempts as two children of the job (a
// parallel group: when the attempts are over, the keeper ends), attempts with backoff while the failures
// allow, the failure recorded under the lease, and what a cancel, a lost lease or a shutdown leave.
//
// The lease keeper renews the lease at least once a second, each renewal a task of its own, so that a
// renewal that hangs (the database cut off) never keeps it from watching the lease's deadline: once the
// job store has not confirmed the lease for most of its length (lease_tracker::work_deadline), the job's
// work is stopped (stop_cause::unproven, logged `job_suspended`) before the lease can have run out, and
// goes on only once a renewal proves the lease again (`job_resumed`); a renewal that finds the lease gone
// ends the job (`lease_lost`).

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace pgexport::engine::detail {

boost::asio::awaitable<void> run_job(engine_state& state, std::shared_ptr<job_context> job);

} // namespace pgexport::engine::detail
