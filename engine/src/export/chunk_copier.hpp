#pragma once
// One stream of a job's rows into its partial file: a keyset chunk per COPY (key > last ORDER BY key
// LIMIT n), each row's key read off as it passes, and after each chunk the checkpoint (fdatasync, then
// the record under the job's lease) running while the next chunk streams. Parquet's rows go through the
// stream's Parquet writer (export/parquet_stream.hpp), and only a chunk that ended a row group is
// checkpointed.

#include "files/file_writer.hpp"
#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"
#include "store/pg.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>

namespace pgexport::engine::detail {

class part_uploader;

// A chunk's rows as they pass, whatever the format: how many, and the key of the last one.
struct keyed_sink : copy_sink {
    std::int64_t count = 0;
    std::int64_t last_key = 0;
};

// Writes the header when the file is empty, then the chunks from the job's checkpoint to its fixed end.
// With `slice` (a parallel job), the chunks of that slice from its own checkpoint to its upper bound, into
// its own file (the header only in the first slice's); the slice's last checkpoint marks it done.
// `uploader` (object storage, one stream): told of each checkpoint, and waited for when two parts wait
// for the store. Returns once the last checkpoint is recorded. Ends with operation_aborted when the job is
// asked to stop (job.stop says why: a checkpoint that finds the lease gone asks it), with pg_error and
// std::system_error as the database and the disk fail. Every way out waits for the checkpoint and the
// write in flight first.
boost::asio::awaitable<void> copy_chunks(engine_state& state, job_context& job, file_writer& writer,
                                         async_connection& connection, std::optional<std::size_t> slice,
                                         part_uploader* uploader);

} // namespace pgexport::engine::detail
