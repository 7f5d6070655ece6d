#include "export/chunk_transaction.hpp"

#include "export/snapshot_session.hpp"
#include "snapshot/snapshot_sql.hpp"
#include "policy/job_policy.hpp"

namespace asio = boost::asio;

namespace pgexport::engine::detail {

asio::awaitable<void> async_copy_chunk(job_context& job, async_connection& connection, const std::string& copy_sql,
                                       copy_sink& sink) {
    if (job.job.info.request.consistency != export_consistency::snapshot) {
        co_await connection.async_copy_out(copy_sql, sink);
        co_return;
    }
    const std::optional<std::string> snapshot = job.snapshot.importable();
    if (!snapshot)
        throw snapshot_lost_error("the export's snapshot is no longer held on this instance");
    try {
        co_await connection.async_exec(chunk_begin_sql(*snapshot));
    } catch (const pg_error& e) {
        if (classify_sqlstate(e.sqlstate()) == failure_class::unavailable)
            throw; // the chunk's own connection
        const std::string reason = std::string("could not import the export's snapshot: ") + e.what();
        release_lost_snapshot(job, reason);
        throw snapshot_lost_error(reason);
    }
    // The COPY on its own: current_query() is the COPY, as in a chunked export.
    co_await connection.async_copy_out(copy_sql, sink);
    co_await connection.async_exec("COMMIT");
}

} // namespace pgexport::engine::detail
