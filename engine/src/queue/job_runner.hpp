#pragma once
// One claimed job, from its claim to its end: attempts (export_attempt) with backoff, the lease renewed
// on a timer, the failure recorded under the lease, and what a cancel, a lost lease or a shutdown leave.

#include "runtime/engine_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace pgexport::engine::detail {

// Runs `job` until it completes, fails for good, is cancelled, loses its lease or the engine stops.
// Never throws for the job's own failures: they end the job (failed) or make it wait (retries).
boost::asio::awaitable<void> run_job(engine_state& state, std::shared_ptr<running_job> job);

} // namespace pgexport::engine::detail
