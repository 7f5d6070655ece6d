#pragma once
// One attempt of a job: where it starts is decided from its record and the disk (a resume, a takeover of
// the previous lease's file, a restart, or publishing what a lease recorded as the export), then one
// stream of chunks or a parallel job's slices (export/slice_runner), then publishing (export/publisher).
// Runs as a task bound to the job's stop: a stop cancels whatever it waits for.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace pgexport::engine::detail {

// Ends with operation_aborted when the job must stop (job->stop says why); throws pg_error,
// std::system_error and unavailable_error as the database, the disk or the store fail.
boost::asio::awaitable<void> export_attempt(engine_state& state, std::shared_ptr<job_context> job);

} // namespace pgexport::engine::detail
