#include "export/chunk_copier.hpp"

#include "export/chunk_transaction.hpp"
#include "export/parquet_stream.hpp"
#include "files/data_dir.hpp"
#include "format/csv_row.hpp"
#include "format/sql.hpp"
#include "policy/job_policy.hpp"
#include "protection/job_throttle.hpp"
#include "storage/export_storage.hpp"
#include "util/event.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

// Appends the rows of a chunk: reads the key off each row and writes the rest. Over --max-rate it asks
// for a drain, which waits: meanwhile the socket is not read.
struct chunk_sink final : keyed_sink {
    chunk_sink(file_writer& w, job_context& j, job_throttle& t, bool single, bool key_leads, const export_request& r,
               std::optional<std::size_t> s)
        : writer(w), job(j), throttle(t), single_column(single), key_leads(key_leads),
          jsonl(r.format == output_format::jsonl), delimiter(jsonl ? jsonl_delimiter : r.csv.delimiter), slice(s) {}
    bool consume(std::string_view row) override {
        ++count;
        ++job.progress.live_rows;
        std::size_t written = 0;
        bool full = false;
        if (key_leads && !jsonl) {
            // The row is the output row already; its first column is the key.
            auto key = leading_key(row, delimiter);
            if (!key)
                throw std::runtime_error("COPY sent a row that does not start with the key");
            last_key = *key;
            full = writer.append(row);
            written = row.size();
        } else {
            auto split = split_keyed_row(row, delimiter);
            if (!split)
                throw std::runtime_error("COPY sent a row that does not start with the key");
            last_key = split->key;
            if (jsonl) {
                auto text = jsonl_text(split->rest);
                if (!text)
                    throw std::runtime_error("COPY sent a jsonl row that is not one JSON text and a newline");
                writer.append(*text);
                full = writer.append("\n");
                written = text->size() + 1;
            } else {
                const std::string_view out = single_column ? single_column_row(split->rest) : split->rest;
                full = writer.append(out);
                written = out.size();
            }
        }
        const bool over_rate = throttle.take(written);
        return full || over_rate;
    }
    asio::awaitable<void> async_drain() override {
        // Written out before a rate wait too: the time is idle anyway, and status's bytes move smoothly.
        co_await writer.async_write_behind();
        job.set_live_bytes(slice, writer.size());
        job.stop.throw_if_requested();
        co_await throttle.async_rate_wait();
    }
    file_writer& writer;
    job_context& job;
    job_throttle& throttle;
    bool single_column;
    bool key_leads;
    bool jsonl;
    char delimiter;
    std::optional<std::size_t> slice;
};

// Writes rows as they come (the header).
struct raw_sink final : copy_sink {
    explicit raw_sink(file_writer& w) : writer(w) {}
    bool consume(std::string_view row) override { return writer.append(row); }
    asio::awaitable<void> async_drain() override { co_await writer.async_write_behind(); }
    file_writer& writer;
};

struct pending_checkpoint {
    explicit pending_checkpoint(asio::any_io_executor ex) : done(std::move(ex)) {}
    event done;
    std::exception_ptr error;
    lease_state outcome = lease_state::held;
};

// The checkpoint: the chunk's bytes (already written) made durable, then the record that vouches for
// them, under the lease. The job's committed state moves only when both succeeded.
asio::awaitable<void> run_checkpoint(engine_state& state, std::shared_ptr<job_context> job, file_writer& writer,
                                     std::shared_ptr<pending_checkpoint> p, std::optional<std::size_t> slice,
                                     slice_state progress, row_group_batch groups, part_uploader* uploader) {
    try {
        co_await writer.async_datasync();
        // A parallel job records every slice at once: this one as it stands now (durable since the
        // fdatasync above), the others as last sent (each durable before it was sent).
        // Parquet: the row groups each slice's state vouches for go with it, whichever checkpoint sends it.
        std::vector<slice_state> sent_slices;
        std::vector<std::uint64_t> versions;
        std::vector<row_group_batch> slice_groups;
        if (slice) {
            job->slices.sent.at(*slice) = progress;
            ++job->slices.sent_version.at(*slice);
            sent_slices = job->slices.sent;
            versions = job->slices.sent_version;
            slice_groups = job->slices.send_row_groups(*slice, std::move(groups));
        }
        auto checkpoint = [progress, sent_slices, groups = std::move(groups), slice_groups = std::move(slice_groups),
                           attempts = job->progress.attempts,
                           parallel = slice.has_value()](job_repository& r, const job_fence::lease_name& l) {
            if (parallel)
                return r.checkpoint_slices(l.id, l.owner, l.token, sent_slices, attempts, slice_groups);
            return r.checkpoint(l.id, l.owner, l.token, progress.last, progress.rows, progress.bytes, attempts,
                                groups);
        };
        const bool held = co_await job->fence.async_write(std::move(checkpoint));
        p->outcome = held ? lease_state::held : lease_state::lost;
        if (held && job->job.part_token != job->token()) {
            // The first checkpoint of this lease: the older leases' files are vouched for no more, and
            // their holders can never record anything again (export/export_files.hpp).
            auto clean = [&files = state.files, id = job->id(), token = job->token()] {
                files.remove_older_leases(id, token);
            };
            co_await async_offload(state.file_pool, std::move(clean));
        }
        if (held) {
            // What the metrics count: rows and bytes vouched for, so a chunk exported again after a failed
            // attempt is not counted twice.
            job_progress& done = job->progress;
            const std::int64_t rows_before = done.rows;
            const std::int64_t bytes_before = done.bytes;
            if (slice) {
                job->slices.on_held(sent_slices, versions);
                const slice_totals t = totals_of(job->slices.held);
                done.rows = t.rows;
                done.bytes = t.bytes;
                done.last_id = watermark(job->slices.held);
                job->job.slices = job->slices.held;
            } else {
                done.last_id = progress.last;
                done.rows = progress.rows;
                done.bytes = progress.bytes;
                if (uploader)
                    uploader->vouched(progress.bytes);
            }
            state.stats.rows_exported += done.rows - rows_before;
            state.stats.bytes_written += done.bytes - bytes_before;
            job->job.part_token = job->token();
            done.consecutive_failures = 0;
            state.progress->notify(job->id());
        }
    } catch (...) {
        p->error = std::current_exception();
    }
    p->done.set();
}

// Waits for the checkpoint in flight, if any, and rethrows its failure; stops when the lease is gone.
asio::awaitable<void> await_checkpoint(std::shared_ptr<pending_checkpoint>& p) {
    if (!p)
        co_return;
    co_await p->done.async_wait();
    auto finished = std::move(p);
    if (finished->error)
        std::rethrow_exception(finished->error);
    if (finished->outcome != lease_state::held) // the fence asked the job to stop
        throw boost::system::system_error(asio::error::operation_aborted);
}

// The free-space guard of a running job: while the data directory's file system has less free space than
// min_free_disk, waits (backing off to 5 s, woken by a cancel or a shutdown) instead of writing on. The
// wait is inside the attempt: it neither fails the job nor counts as a failed attempt. Logged once when
// the wait starts and once when it ends; status shows it as "waiting".
asio::awaitable<void> wait_for_free_space(engine_state& state, job_context& job) {
    const std::uint64_t min = state.config.min_free_disk;
    if (min == 0)
        co_return;
    const retry_policy backoff{std::chrono::milliseconds(250), std::chrono::seconds(5), 0};
    for (int waits = 1;; ++waits) {
        auto ask = [dir = state.config.data_dir] { return free_space(dir); };
        const auto free = co_await async_offload(state.file_pool, std::move(ask));
        if (!free || *free >= min)
            break;
        if (!job.waits.waiting) {
            job.waits.waiting = "the data directory has " + format_size(*free) + " free, less than --min-free-disk (" +
                          format_size(min) + "); the export goes on when space is freed";
            log_event("warning", "job_waiting_for_disk",
                      {{"job", job.id()}, {"free_bytes", *free}, {"min_free_bytes", min}, {"rows", job.progress.rows}});
        }
        // Cancelled with the job's work (its stop), like every wait here.
        asio::steady_timer timer(state.executor, decide_retry(backoff, failure_class::no_space, waits).delay);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (job.stop.requested()) {
            job.waits.waiting.reset();
            job.stop.throw_if_requested();
        }
    }
    if (job.waits.waiting) {
        job.waits.waiting.reset();
        log_event("info", "job_disk_space_back", {{"job", job.id()}});
    }
}

void record_chunk(engine_stats& stats, std::chrono::steady_clock::duration took) {
    const double seconds = std::chrono::duration<double>(took).count();
    ++stats.chunks;
    stats.chunk_seconds_sum += seconds;
    for (std::size_t i = 0; i < engine_stats::chunk_buckets.size(); ++i)
        if (seconds <= engine_stats::chunk_buckets[i])
            ++stats.chunk_seconds_le[i];
}

} // namespace

asio::awaitable<void> copy_chunks(engine_state& state, job_context& job, file_writer& writer,
                                  async_connection& connection, std::optional<std::size_t> slice,
                                  part_uploader* uploader) {
    const export_request& request = job.job.info.request;
    const table_schema* found = state.find_schema(job.job.table);
    if (!found) // claims take only jobs of this instance's tables
        throw std::runtime_error("this instance does not serve the job's table " + job.job.table);
    const table_schema& schema = *found;
    const bool single = output_columns(schema, request).size() == 1;
    const bool leads = key_leads(schema, request);
    // At most one checkpoint is in flight. Every way out of here waits for it and for the write in flight:
    // a stale write landing after the next attempt's truncation would corrupt the file.
    std::shared_ptr<pending_checkpoint> pending;
    std::unique_ptr<parquet_stream> parquet; // the rows' Parquet writer, across the chunks
    std::exception_ptr failure;
    try {
        // One stream walks (.. fixed end] from the job's checkpoint; a slice its own range from its own.
        slice_state progress = slice ? job.slices.held.at(*slice)
                                     : slice_state{{std::nullopt, job.job.key_upper_bound.value_or(0)},
                                                   job.progress.last_id, job.progress.rows, job.progress.bytes,
                                                   false};
        if (request.format == output_format::parquet)
            parquet = co_await parquet_stream::async_open(state, job, slice, progress);
        if (progress.bytes == 0 && parquet) {
            writer.append(parquet_stream::magic); // every slice's file too: the join skips theirs
        } else if (progress.bytes == 0 && slice.value_or(0) == 0) {
            // The start of the file, written again after any failure before the first checkpoint. A
            // parallel job's file starts with its first slice's.
            if (request.format == output_format::csv && request.csv.bom)
                writer.append("\xEF\xBB\xBF");
            if (auto sql = header_copy_sql(schema, request)) {
                raw_sink header(writer);
                co_await connection.async_copy_out(*sql, header);
            }
        }
        // A parallel job's slices share its --max-rate.
        job_throttle throttle(state, job.id(), job.waits, job.stop, slice ? job.slices.held.size() : 1);
        while (job.job.key_upper_bound && !progress.done) {
            job.stop.throw_if_requested();
            co_await wait_for_free_space(state, job);
            // In object storage, at most about two parts of the file wait for the store on the local disk.
            if (uploader)
                co_await uploader->async_room();
            chunk_sink csv(writer, job, throttle, single, leads, request, slice);
            keyed_sink& sink = parquet ? parquet->chunk_sink(writer, throttle) : csv;
            const std::string sql = chunk_copy_sql(schema, request, progress.cursor(), progress.bounds.upper,
                                                   state.config.chunk_rows);
            const auto chunk_start = std::chrono::steady_clock::now();
            const auto rate_waited_before = throttle.rate_waited();
            co_await async_copy_chunk(job, connection, sql, sink);
            const auto took = std::chrono::steady_clock::now() - chunk_start;
            record_chunk(state.stats, took);
            const bool ended = sink.count < state.config.chunk_rows;
            // A slice records that it is done, so that a resume skips it: also when its range had no rows
            // left (its header, for the first slice, is vouched for then too). Parquet vouches only for the
            // row groups it flushed: a chunk that ended none has nothing new to checkpoint.
            bool vouch = sink.count > 0 || slice;
            if (parquet)
                vouch = co_await parquet->async_end_chunk(writer, ended) || (ended && slice);
            if (!vouch && ended)
                break;
            if (sink.count > 0)
                progress.last = sink.last_key;
            progress.rows += sink.count;
            progress.done = ended;
            if (vouch) {
                co_await writer.async_flush();
                job.set_live_bytes(slice, writer.size());
                co_await await_checkpoint(pending);
                progress.bytes = writer.size();
                pending = std::make_shared<pending_checkpoint>(state.executor);
                // Not bound to the job's stop: a checkpoint runs to its end, and every way out waits for it.
                // run_checkpoint keeps its failure in `pending`.
                asio::co_spawn(state.executor,
                               run_checkpoint(state, job.shared_from_this(), writer, pending, slice,
                                              parquet ? parquet->vouched(progress) : progress,
                                              parquet ? parquet->take_flushed() : row_group_batch{}, uploader),
                               [id = job.id()](std::exception_ptr e) {
                                   log_if_failed(e, "checkpoint_crashed", {{"job", id}});
                               });
            }
            if (progress.done)
                break;
            // The checkpoint runs during the pause, if there is one. The chunk's own pace leaves out the
            // time --max-rate held it back.
            const auto worked = took - (throttle.rate_waited() - rate_waited_before);
            co_await throttle.async_between_chunks(connection, worked, sink.count);
        }
        co_await await_checkpoint(pending);
        if (parquet && !slice) // a parallel job's footer comes with the join of its slices
            co_await parquet->async_write_footer(writer);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        if (pending)
            co_await pending->done.async_wait(); // its outcome no longer matters, only its end
        co_await writer.async_settle();
        std::rethrow_exception(failure);
    }
}

} // namespace pgexport::engine::detail
