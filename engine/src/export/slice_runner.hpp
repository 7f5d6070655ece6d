#pragma once
// A parallel job's attempt: every slice not done yet on a connection of its own, each from its own
// checkpoint into its own partial file of this lease, as children of the attempt (a parallel group: the
// first slice to fail cancels the others, and a stop of the job cancels them all); once all are done,
// the header and the slices in key order into one file (in the kernel), which is published.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace pgexport::engine::detail {

// Failures as export_attempt.
boost::asio::awaitable<void> export_slices(engine_state& state, std::shared_ptr<job_context> job);

} // namespace pgexport::engine::detail
