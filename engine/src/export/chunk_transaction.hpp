#pragma once
// One chunk's COPY in the transaction its job's consistency asks for: as it is for a chunked job (the
// statement is its own transaction); for a snapshot job in a short REPEATABLE READ READ ONLY transaction
// that imports the job's held snapshot first (BEGIN ...; SET TRANSACTION SNAPSHOT ...; COPY ...; COMMIT),
// so that every chunk of every slice reads the same moment.

#include "job/job_context.hpp"
#include "store/pg.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace pgexport::engine::detail {

// Runs `copy_sql` on `connection` into `sink`, as async_copy_out, in `job`'s transaction. A snapshot job
// that holds no snapshot here, or whose snapshot cannot be imported (its session is gone), throws
// snapshot_lost_error (its snapshot released): no chunk of it is ever read under another snapshot. Other
// failures as async_copy_out; the connection is then in a transaction, to be closed.
boost::asio::awaitable<void> async_copy_chunk(job_context& job, async_connection& connection,
                                              const std::string& copy_sql, copy_sink& sink);

} // namespace pgexport::engine::detail
