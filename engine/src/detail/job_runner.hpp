#pragma once
// One claimed job, from its checkpoint to its end: attempts with backoff, the lease renewed on a timer,
// the partial file of this lease (copied from the previous lease's at a takeover), the finished file
// published, and every record written under the lease.

#include "detail/engine_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace pgexport::engine::detail {

// Runs `job` until it completes, fails for good, is cancelled, loses its lease or the engine stops.
// Never throws for the job's own failures: they end the job (failed) or make it wait (retries).
boost::asio::awaitable<void> run_job(engine_state& state, std::shared_ptr<running_job> job);

} // namespace pgexport::engine::detail
