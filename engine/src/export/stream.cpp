#include "export/stream.hpp"

#include "export/chunk_copier.hpp"
#include "files/file_writer.hpp"
#include "format/sql.hpp"
#include "policy/job_policy.hpp"
#include "protection/replica_gate.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

asio::awaitable<std::int64_t> async_stream(engine_state& state, job_context& job, fs::path path, std::int64_t bytes,
                                           std::optional<std::size_t> slice, part_uploader* uploader) {
    const bool gzip = job.job.info.request.compression == output_compression::gzip;
    file_writer writer(state.executor, state.file_pool, path, bytes, state.config.write_buffer_bytes, gzip);
    std::exception_ptr failure;
    // With --replica the rows come from the standby; everything else (the checkpoints) from the primary.
    const std::string rows_url = state.config.replica_url.value_or(state.config.database_url);
    // A session an earlier stream left warm, else a new one (store/warm_sessions.hpp).
    std::unique_ptr<async_connection> session = state.rows_sessions.take(rows_url);
    try {
        job.stop.throw_if_requested();
        if (!session) {
            session = std::make_unique<async_connection>(state.executor);
            co_await session->async_connect(rows_url, state.config.statement_timeout, state.config.connect_timeout);
            if (auto cost = planner_settings_sql(state.config.random_page_cost))
                co_await session->async_exec(*cost);
        }
        if (std::exchange(job.waits.replica_unreachable_shown, false))
            job.waits.waiting.reset();
        async_connection& connection = *session;
        co_await async_wait_for_replica(state, job, connection);
        co_await copy_chunks(state, job, writer, connection, slice, uploader);
    } catch (const pg_error& e) {
        // The job store's failures arrive as unavailable_error: a lost or refused connection here is the
        // rows' connection, the standby's with --replica.
        if (state.config.replica_url && classify_sqlstate(e.sqlstate()) == failure_class::unavailable)
            job.waits.replica_down = e.what();
        failure = std::current_exception();
    } catch (const boost::system::system_error& e) {
        if (state.config.replica_url && e.code() != asio::error::operation_aborted)
            job.waits.replica_down = e.what();
        failure = std::current_exception();
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await writer.async_settle();
        std::rethrow_exception(failure);
    }
    co_await writer.async_sync();
    state.rows_sessions.give_back(rows_url, std::move(session));
    co_return writer.size();
}

} // namespace pgexport::engine::detail
