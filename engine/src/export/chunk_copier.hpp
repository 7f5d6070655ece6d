#pragma once
// One job's rows into its partial file: a keyset chunk per COPY (key > last ORDER BY key LIMIT n), each
// row's key read off as it passes, and after each chunk the checkpoint (fdatasync, then the record under
// the job's lease) running while the next chunk streams.

#include "runtime/engine_state.hpp"
#include "files/file_writer.hpp"
#include "store/pg.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::engine::detail {

// Writes the header when the file is empty, then the chunks from the job's checkpoint to its fixed end.
// With `slice` (a parallel job), the chunks of that slice from its own checkpoint to its upper bound, into
// its own file (the header only in the first slice's); the slice's last checkpoint marks it done.
// Returns once the last checkpoint is recorded. Throws stop_job when the job was cancelled or its lease
// lost (the flags on `job` say which), pg_error and std::system_error as the database and the disk fail.
// Every way out waits for the checkpoint and the write in flight first.
boost::asio::awaitable<void> copy_chunks(engine_state& state, running_job& job, file_writer& writer,
                                         async_connection& connection,
                                         std::optional<std::size_t> slice = std::nullopt);

} // namespace pgexport::engine::detail
