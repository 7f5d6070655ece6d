#pragma once
// One stream of a job's rows on a connection of its own (the job's, or a parallel job's slice's) into a
// partial file of this lease: connects (to --replica when configured, waiting until it has replayed far
// enough), then copies the chunks from the checkpoint.

#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <optional>

namespace pgexport::engine::detail {

class part_uploader;

// Rows into `path` from `bytes` (its checkpoint): of the whole job, or of `slice`. Returns the file's
// length, flushed and fdatasync'd. Every way out waits for the checkpoint and the write in flight.
// Failures as copy_chunks; a lost standby is noted in job.waits.replica_down.
boost::asio::awaitable<std::int64_t> async_stream(engine_state& state, job_context& job, std::filesystem::path path,
                                                  std::int64_t bytes, std::optional<std::size_t> slice,
                                                  part_uploader* uploader);

} // namespace pgexport::engine::detail
