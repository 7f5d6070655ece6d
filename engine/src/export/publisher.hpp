#pragma once
// The end of an export: its bytes published in fenced steps (policy/publish_plan.hpp) and the completion
// recorded under the lease. A lease that is not proven by the job store at a step never takes the next:
// every step is fenced, or ordered so that it cannot matter.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <string>

namespace pgexport::engine::detail {

// This lease's partial file `part`, `bytes` long and fdatasync'd, is the whole export: staged in the store,
// recorded as `publishing` under the lease, published, completed. Ends with operation_aborted when the
// lease was lost or the job cancelled at a step (job.stop says which); throws unavailable_error while the
// database or the store is away (the next attempt takes it up where it stopped).
boost::asio::awaitable<void> async_publish_export(engine_state& state, job_context& job, std::filesystem::path part,
                                                  std::int64_t bytes);

// For a job whose record says `publishing`: the recorded bytes published (or found published), then the
// completion. Throws std::runtime_error when the recorded bytes are gone or a finished export of other
// bytes is in their place (the data directory was changed behind pgexport's back: the job fails).
boost::asio::awaitable<void> async_publish_recorded(engine_state& state, job_context& job);

// Records the completion under the lease (the finished export is at `location`, `bytes` long), then
// removes the job's partial files. A cancel that came first removes the finished export instead.
boost::asio::awaitable<void> async_complete(engine_state& state, job_context& job, std::string location,
                                            std::int64_t bytes);

} // namespace pgexport::engine::detail
