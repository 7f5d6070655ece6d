#pragma once
// One attempt of a claimed job, from its checkpoint to the recorded completion: the resume plan (this
// lease's own partial file, copied from the previous lease's at a takeover), object storage's upload
// prepared and fed while the file is written, one stream of rows or a parallel job's slices side by side
// and their files joined, publishing, and the completion under the lease.

#include "runtime/engine_state.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::engine::detail {

// Throws the attempt's failure (pg_error, unavailable_error, std::system_error...) for the job runner to
// classify, stop_job when the job must stop.
boost::asio::awaitable<void> export_attempt(engine_state& state, running_job& job);

} // namespace pgexport::engine::detail
