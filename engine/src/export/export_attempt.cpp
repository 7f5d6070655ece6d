#include "export/export_attempt.hpp"

#include "export/chunk_copier.hpp"
#include "files/file_writer.hpp"
#include "policy/job_policy.hpp"
#include "protection/replica_gate.hpp"
#include "policy/replica_lag.hpp"
#include "format/sql.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

// The completion, recorded under the lease. The finished file is published already (`published`: where).
asio::awaitable<void> finish(engine_state& state, running_job& job, const std::string& published, std::int64_t bytes) {
    auto complete = [id = job.id(), owner = state.config.instance_id, token = job.token(), path = published,
                     rows = job.rows, bytes, attempts = job.attempts](job_repository& r) {
        return r.complete(id, owner, token, path, rows, bytes, attempts);
    };
    const auto sent = lease_tracker::clock::now();
    const lease_state s = co_await state.on_jobs(std::move(complete));
    job.lease_answered(s, sent);
    if (s == lease_state::cancelled) {
        // Cancelled at the last moment (the record says so, and never completed): the file goes.
        std::error_code ec;
        fs::remove(state.final_path(job.id()), ec);
        std::vector<std::string> gone{job.id()};
        try {
            co_await state.storage->async_remove(std::move(gone));
        } catch (const std::exception& e) {
            // The sweeper's orphan pass does not list the bucket: say so, for whoever empties it.
            log_event("warning", "s3_remove_failed", {{"job", job.id()}, {"error", e.what()}});
        }
        throw stop_job{};
    }
    if (s == lease_state::lost)
        throw stop_job{}; // the file is whole; the instance that holds the job records it
    job.job.info.status = job_status::completed;
    log_event("info", "job_completed", {{"job", job.id()}, {"rows", job.rows}, {"bytes", bytes}});
}

// A job whose finished export was published by an attempt that stopped before recording the completion:
// its partial files go, and the completion is recorded.
asio::awaitable<void> finish_published(engine_state& state, running_job& job, const std::string& published,
                                       std::int64_t bytes) {
    auto clean_up = [&state, id = job.id()] { state.remove_part_files(id); };
    co_await async_offload(state.file_pool, std::move(clean_up));
    co_await finish(state, job, published, bytes);
}

// A single-stream job exported again from its first row.
void start_over(running_job& job) {
    job.last_id.reset();
    job.rows = 0;
    job.bytes = 0;
}

// One stream of rows into `path` from `bytes` (its checkpoint) on a connection of its own: the job's, or
// a parallel job's slice. Returns the file's length, flushed and fdatasync'd. Every way out waits for the
// checkpoint and the write in flight.
asio::awaitable<std::int64_t> async_stream(engine_state& state, running_job& job, fs::path path,
                                           std::int64_t bytes, std::optional<std::size_t> slice) {
    const bool gzip = job.job.info.request.compression == output_compression::gzip;
    file_writer writer(state.executor, state.file_pool, path, bytes, state.config.write_buffer_bytes, gzip);
    async_connection connection(state.executor);
    async_connection*& registered = slice ? job.slice_connections.at(*slice) : job.connection;
    // Waits of a slice on a timer of its own: slices waiting at once must not replace each other's.
    std::unique_ptr<asio::steady_timer>& timer = slice ? job.slice_pauses.at(*slice) : job.backoff;
    registered = &connection;
    struct unlink_connection {
        async_connection*& c;
        ~unlink_connection() { c = nullptr; }
    } unlink{registered};
    std::exception_ptr failure;
    // With --replica the rows come from the standby; everything else (the checkpoints) from the primary.
    const std::string rows_url = state.config.replica_url.value_or(state.config.database_url);
    try {
        if (job.should_stop() || job.slice_failed)
            throw stop_job{};
        co_await connection.async_connect(rows_url, state.config.statement_timeout, state.config.connect_timeout);
        if (std::exchange(job.replica_unreachable_shown, false))
            job.waiting.reset();
        if (auto cost = planner_settings_sql(state.config.random_page_cost))
            co_await connection.async_exec(*cost);
        co_await async_wait_for_replica(state, job, connection, timer);
        co_await copy_chunks(state, job, writer, connection, slice);
    } catch (const pg_error& e) {
        // The job store's failures arrive as unavailable_error: a lost or refused connection here is the
        // rows' connection, the standby's with --replica.
        if (state.config.replica_url && classify_sqlstate(e.sqlstate()) == failure_class::unavailable)
            job.replica_down = e.what();
        failure = std::current_exception();
    } catch (const boost::system::system_error& e) {
        if (state.config.replica_url)
            job.replica_down = e.what();
        failure = std::current_exception();
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await writer.async_settle();
        std::rethrow_exception(failure);
    }
    co_await writer.async_sync();
    connection.close();
    co_return writer.size();
}

// A parallel job's attempt: every slice not done yet on a connection of its own, each from its own
// checkpoint into its own part file of this lease; once all are done, the header and the slices in key
// order into one file (in the kernel), published, and the slices' files removed only then, so that a crash
// anywhere before the completion is recorded assembles the same bytes again.
asio::awaitable<void> export_parallel_attempt(engine_state& state, running_job& job) {
    const std::string& id = job.id();
    const std::int64_t token = job.token();
    const std::size_t n = job.slices.size();
    const fs::path assembled = state.part_path(id, token);
    const fs::path final = state.final_path(id);
    if (all_done(job.slices) && file_writer::length_of(final) >= 0) {
        // A crash between publishing the file and recording the completion: the file is complete.
        co_await finish_published(state, job, final.string(), file_writer::length_of(final));
        co_return;
    }
    // Object storage: a parallel job's file is uploaded once assembled, after the parts an earlier attempt
    // sent of it (its length is not known before).
    const stored_prefix stored = co_await state.storage->async_prepare(job, -1, false);
    if (stored.published) {
        co_await finish_published(state, job, *stored.published, stored.bytes);
        co_return;
    }
    std::vector<fs::path> own;
    std::vector<fs::path> keep;
    for (std::size_t k = 0; k < n; ++k) {
        own.push_back(state.slice_path(id, token, k));
        keep.push_back(own.back());
        if (job.job.part_token)
            keep.push_back(state.slice_path(id, *job.job.part_token, k));
    }
    // Each slice from its checkpoint, in the file the checkpoint names (copied into this lease's own after
    // a takeover, as for one stream); a slice whose bytes are gone starts over alone.
    auto prepare = [&state, id, token, own, source = job.job.part_token, slices = job.slices] {
        std::vector<resume_plan> plans;
        for (std::size_t k = 0; k < slices.size(); ++k) {
            const fs::path from = source ? state.slice_path(id, *source, k) : own[k];
            plans.push_back(plan_resume({slices[k].bytes}, {file_writer::length_of(from), -1}));
            if (plans.back().action == resume_action::resume && from != own[k])
                copy_prefix(from, own[k], slices[k].bytes);
        }
        return plans;
    };
    const auto plans = co_await async_offload(state.file_pool, std::move(prepare));
    for (std::size_t k = 0; k < n; ++k) {
        if (plans[k].action != resume_action::restart)
            continue;
        log_event("warning", "job_slice_restarted", {{"job", id}, {"slice", k}, {"reason", plans[k].reason}});
        job.slices[k] = initial_states({job.slices[k].bounds}).front();
    }
    if (job.job.part_token && *job.job.part_token != token)
        log_event("info", "job_taken_over", {{"job", id}, {"bytes", job.bytes}, {"token", token}, {"slices", n}});
    auto clean = [&state, id, keep] { state.remove_part_files(id, keep); };
    co_await async_offload(state.file_pool, std::move(clean));
    job.slices_sent = job.slices;
    const slice_totals start = totals_of(job.slices);
    job.rows = start.rows;
    job.bytes = start.bytes;
    job.live_rows = job.rows;
    for (std::size_t k = 0; k < n; ++k)
        job.set_live_bytes(k, job.slices[k].bytes);
    job.slice_failed = false;

    // The slices run side by side; the first to fail stops the others, and its failure is the attempt's.
    struct slice_runs {
        explicit slice_runs(asio::any_io_executor ex) : finished(std::move(ex)) {}
        std::size_t left = 0;
        event finished;
        std::exception_ptr failure;
        bool failure_is_stop = false;
    };
    auto runs = std::make_shared<slice_runs>(state.executor);
    for (std::size_t k = 0; k < n; ++k) {
        if (job.slices[k].done)
            continue;
        ++runs->left;
        auto ended = [runs, &job](std::exception_ptr e, std::int64_t) {
            if (e) {
                bool stop = false;
                try {
                    std::rethrow_exception(e);
                } catch (const stop_job&) {
                    stop = true;
                } catch (...) {
                }
                if (!runs->failure || (runs->failure_is_stop && !stop)) {
                    runs->failure = e;
                    runs->failure_is_stop = stop;
                }
                if (!job.slice_failed) {
                    job.slice_failed = true;
                    job.interrupt();
                }
            }
            if (--runs->left == 0)
                runs->finished.set();
        };
        asio::co_spawn(state.executor, async_stream(state, job, own[k], job.slices[k].bytes, k), std::move(ended));
    }
    if (runs->left > 0)
        co_await runs->finished.async_wait();
    job.slice_failed = false;
    if (runs->failure)
        std::rethrow_exception(runs->failure);
    if (job.should_stop())
        throw stop_job{};
    if (!all_done(job.slices))
        throw std::logic_error("a parallel export ended with slices not done");

    std::vector<std::pair<fs::path, std::int64_t>> parts;
    std::int64_t total = 0;
    for (std::size_t k = 0; k < n; ++k) {
        parts.emplace_back(own[k], job.slices[k].bytes);
        total += job.slices[k].bytes;
    }
    auto assemble = [parts, assembled] { concatenate(parts, assembled); };
    co_await async_offload(state.file_pool, std::move(assemble));
    const std::string published = co_await state.storage->async_publish(job, assembled, final, total);
    // The slices' files (and, in object storage, the assembled one) go once the completion is recorded.
    co_await finish(state, job, published, total);
    auto clean_up = [&state, id] { state.remove_part_files(id); };
    co_await async_offload(state.file_pool, std::move(clean_up));
}

} // namespace

asio::awaitable<void> export_attempt(engine_state& state, running_job& job) {
    if (job.parallel()) {
        co_await export_parallel_attempt(state, job);
        co_return;
    }
    const std::string& id = job.id();
    const fs::path own = state.part_path(id, job.token());
    const fs::path source = state.part_path(id, job.job.part_token);
    const fs::path final = state.final_path(id);

    const resume_plan plan = plan_resume({job.bytes}, {file_writer::length_of(source), file_writer::length_of(final)});
    if (plan.action == resume_action::finish) {
        // A crash between publishing the file and recording the completion: the file is complete.
        co_await finish_published(state, job, final.string(), file_writer::length_of(final));
        co_return;
    }
    if (plan.action == resume_action::restart) {
        // The data directory was changed behind our back: the checkpoint cannot be trusted.
        log_event("warning", "job_restarted", {{"job", id}, {"reason", plan.reason}});
        start_over(job);
    }
    // Object storage: the upload goes on after the parts it holds (the local file may have a hole there),
    // or a new one starts.
    const stored_prefix stored = co_await state.storage->async_prepare(job, job.bytes, true);
    if (stored.published) {
        co_await finish_published(state, job, *stored.published, stored.bytes);
        co_return;
    }
    if (stored.lost) {
        log_event("warning", "job_restarted",
                  {{"job", id}, {"reason", "object storage lost parts whose bytes the local file gave up"}});
        start_over(job);
    }
    if (job.bytes > 0 && source != own) {
        // Taken over: this lease writes a file of its own, so that the previous holder, should it wake up
        // and write on, can never touch it. The checkpoint's bytes are copied in first, but those in the store.
        auto copy = [source, own, bytes = job.bytes, hole = stored.bytes] { copy_prefix(source, own, bytes, hole); };
        co_await async_offload(state.file_pool, std::move(copy));
        log_event("info", "job_taken_over", {{"job", id}, {"bytes", job.bytes}, {"token", job.token()}});
    }
    // Files of older leases go, but the one the checkpoint names: until this lease records a checkpoint of
    // its own, a crash would send the next lease back to it. (The first checkpoint removes it.)
    auto clean = [&state, id, keep = std::vector<fs::path>{own, source}] { state.remove_part_files(id, keep); };
    co_await async_offload(state.file_pool, std::move(clean));
    job.live_rows = job.rows;
    job.live_bytes = job.bytes;

    // In object storage the file goes to the store while it is written; the uploader stops before anything
    // else touches the upload.
    const std::unique_ptr<part_uploader> uploader = state.storage->start_uploader(job, own, job.bytes);
    job.uploader = uploader.get();
    std::exception_ptr failure;
    try {
        job.bytes = co_await async_stream(state, job, own, job.bytes, std::nullopt);
    } catch (...) {
        failure = std::current_exception();
    }
    job.uploader = nullptr;
    if (uploader)
        co_await uploader->async_close();
    if (failure)
        std::rethrow_exception(failure);
    // This lease's file holds every byte now: older leases' files go before it is published, so that no
    // partial file outlives the finished one.
    auto clean_up = [&state, id, keep = std::vector<fs::path>{own}] { state.remove_part_files(id, keep); };
    co_await async_offload(state.file_pool, std::move(clean_up));
    const std::string published = co_await state.storage->async_publish(job, own, final, job.bytes);
    co_await finish(state, job, published, job.bytes);
    // In object storage the partial file was kept until the completion was recorded: it goes now.
    auto drop_part = [&state, id] { state.remove_part_files(id); };
    co_await async_offload(state.file_pool, std::move(drop_part));
}

} // namespace pgexport::engine::detail
