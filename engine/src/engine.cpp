#include "detail/csv_row.hpp"
#include "detail/file_writer.hpp"
#include "detail/job_policy.hpp"
#include "detail/job_store.hpp"
#include "detail/offload.hpp"
#include "detail/pg.hpp"
#include "detail/sql.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <deque>
#include <map>
#include <random>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine {

namespace {

using detail::job_store;
using detail::stored_job;

// A one-shot event for a single-threaded executor: set() once, async_wait() from any number of waiters.
class event {
public:
    explicit event(asio::any_io_executor ex) : timer_(ex, asio::steady_timer::time_point::max()) {}
    void set() {
        set_ = true;
        timer_.cancel();
    }
    bool is_set() const { return set_; }
    asio::awaitable<void> async_wait() {
        while (!set_) {
            boost::system::error_code ec;
            co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

private:
    asio::steady_timer timer_;
    bool set_ = false;
};

// Canonical lower-case UUID text, or nullopt.
std::optional<std::string> normalize_job_id(std::string_view id) {
    if (id.size() != 36)
        return std::nullopt;
    std::string out(id);
    for (std::size_t i = 0; i < out.size(); ++i) {
        char& c = out[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return std::nullopt;
        } else if (std::isxdigit(static_cast<unsigned char>(c))) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            return std::nullopt;
        }
    }
    return out;
}

struct stop_job {}; // thrown inside a job when it was cancelled or the engine shuts down

} // namespace

struct export_engine::impl : std::enable_shared_from_this<impl> {
    struct running_job {
        stored_job job;
        // The last checkpoint: what the database and the disk vouch for.
        std::optional<std::int64_t> last_id;
        std::int64_t rows = 0;
        std::int64_t bytes = 0;
        int attempts = 0;             // failed attempts in all, stored with each checkpoint
        int consecutive_failures = 0; // since the last checkpoint: what the retry budget counts
        bool marked_running = false;
        // Progress beyond the checkpoint, for status.
        std::int64_t live_rows = 0;
        std::int64_t live_bytes = 0;
        bool cancel_requested = false;
        bool stop_requested = false;
        detail::async_connection* connection = nullptr;
        std::unique_ptr<asio::steady_timer> backoff;
        std::unique_ptr<event> done;

        bool should_stop() const { return cancel_requested || stop_requested; }
        void interrupt() {
            if (connection)
                connection->cancel();
            if (backoff)
                backoff->cancel();
        }
        const std::string& id() const { return job.info.id; }
    };

    impl(asio::any_io_executor ex, engine_config cfg)
        : executor(std::move(ex)), config(std::move(cfg)),
          store(config.database_url, std::chrono::seconds(30), config.connect_timeout) {}

    ~impl() {
        store_pool.join();
        file_pool.join();
    }

    // Runs f(store) on the store thread and resumes on the engine's executor with its result.
    // A lost or refused connection surfaces as unavailable_error.
    template <class F> auto on_store(F f) -> asio::awaitable<std::invoke_result_t<F&, job_store&>> {
        return detail::async_offload(store_pool, [this, f = std::move(f)]() mutable {
            try {
                return f(store);
            } catch (const detail::pg_error& e) {
                if (e.transient())
                    throw unavailable_error(std::string("the database is unavailable: ") + e.what());
                throw;
            }
        });
    }

    fs::path part_path(const std::string& id) const { return config.data_dir / (id + ".csv.part"); }
    fs::path final_path(const std::string& id) const { return config.data_dir / (id + ".csv"); }

    void enqueue(stored_job job) {
        queue.push_back(std::move(job));
        pump();
    }

    // Starts queued jobs while there is room.
    void pump() {
        while (!stopping && running.size() < static_cast<std::size_t>(std::max(1, config.max_concurrent)) &&
               !queue.empty()) {
            auto job = std::make_shared<running_job>();
            job->job = std::move(queue.front());
            queue.pop_front();
            const job_info& info = job->job.info;
            job->last_id = info.last_processed_id;
            job->rows = info.rows_exported;
            job->bytes = info.bytes_written;
            job->attempts = info.attempts;
            job->done = std::make_unique<event>(executor);
            running[info.id] = job;
            asio::co_spawn(executor, run_job(job), asio::detached);
        }
    }

    asio::awaitable<void> run_job(std::shared_ptr<running_job> job) {
        auto self = shared_from_this();
        try {
            co_await run_attempts(*job);
        } catch (const std::exception& e) {
            log_event("error", "job_crashed", {{"job", job->id()}, {"error", e.what()}});
        }
        running.erase(job->id());
        job->done->set();
        pump();
    }

    // One job's attempts until it completes, fails for good, or is stopped. Every step that needs the
    // database, marking the job running included, is inside the loop: while the database is away the job
    // waits and tries again (however long that takes), it is never dropped.
    asio::awaitable<void> run_attempts(running_job& job) {
        const detail::retry_policy policy{config.retry_base_delay, config.retry_max_delay, config.max_attempts};
        std::uniform_real_distribution<double> jitter(0.0, 1.0);
        for (;;) {
            std::string failure;
            auto kind = detail::failure_class::permanent;
            try {
                if (co_await mark_running(job))
                    co_await export_from_checkpoint(job);
                co_return;
            } catch (const stop_job&) {
            } catch (const detail::pg_error& e) {
                failure = std::string("database error: ") + e.what();
                kind = detail::classify_sqlstate(e.sqlstate());
            } catch (const unavailable_error& e) {
                failure = e.what();
                kind = detail::failure_class::unavailable;
            } catch (const boost::system::system_error& e) {
                failure = e.what(); // a socket: the database's connection
                kind = detail::failure_class::unavailable;
            } catch (const std::system_error& e) {
                failure = e.what(); // the disk: full, too large, not writable, out of descriptors
                kind = detail::classify_errno(e.code().value());
            } catch (const std::exception& e) {
                failure = e.what();
            }
            if (job.should_stop())
                break;
            ++job.attempts;
            ++job.consecutive_failures;
            const auto next = detail::decide_retry(policy, kind, job.consecutive_failures, jitter(random));
            if (next.give_up) {
                if (kind == detail::failure_class::transient)
                    failure = "gave up after " + std::to_string(job.consecutive_failures) +
                              " attempts; last error: " + failure;
                co_await fail_job(job, failure);
                co_return;
            }
            ++stats.retries;
            log_event(kind == detail::failure_class::unavailable ? "info" : "warning", "job_retry",
                      {{"job", job.id()},
                       {"attempt", job.attempts},
                       {"class", detail::to_string(kind)},
                       {"delay_ms", next.delay.count()},
                       {"error", failure}});
            job.backoff = std::make_unique<asio::steady_timer>(executor, next.delay);
            boost::system::error_code ec;
            co_await job.backoff->async_wait(asio::redirect_error(asio::use_awaitable, ec));
            job.backoff.reset();
            if (job.should_stop())
                break;
        }
        if (job.cancel_requested) {
            std::error_code ec;
            fs::remove(part_path(job.id()), ec);
            log_event("info", "job_cancelled", {{"job", job.id()}});
        } else {
            log_event("info", "job_stopped", {{"job", job.id()}, {"rows", job.rows}});
        }
    }

    // queued -> running, once per job. False when the job is no longer queued or running (it was
    // cancelled while it waited); throws while the database is away.
    asio::awaitable<bool> mark_running(running_job& job) {
        if (job.marked_running)
            co_return true;
        // Capturing lambdas are named before co_await throughout: GCC 12 destroys a capturing lambda twice
        // when it is a temporary in the co_await expression.
        auto mark = [id = job.id()](job_store& s) { return s.mark_running(id); };
        const auto started_at = co_await on_store(std::move(mark));
        if (!started_at) {
            job.cancel_requested = true;
            co_return false;
        }
        job.marked_running = true;
        job.job.info.status = job_status::running;
        job.job.info.started_at = started_at;
        log_event("info", "job_started", {{"job", job.id()}, {"resumed_at_row", job.rows}});
        co_return true;
    }

    asio::awaitable<void> fail_job(running_job& job, const std::string& raw_reason) {
        // Error texts can quote bytes from anywhere (a file name, a server message): the record takes UTF-8.
        const std::string reason = to_valid_utf8(raw_reason);
        std::error_code ec;
        fs::remove(part_path(job.id()), ec);
        log_event("error", "job_failed", {{"job", job.id()}, {"error", reason}});
        // The database may be away: keep trying while it is, so the job ends failed rather than stuck
        // running. Any other refusal is final: the job stays as it is and is taken up at the next start.
        for (int attempt = 0; !job.should_stop(); ++attempt) {
            try {
                auto fail = [id = job.id(), reason](job_store& s) { s.fail(id, reason); };
                co_await on_store(std::move(fail));
                co_return;
            } catch (const unavailable_error& e) {
                log_event("warning", "job_fail_unrecorded", {{"job", job.id()}, {"error", e.what()}});
            } catch (const std::exception& e) {
                log_event("error", "job_fail_unrecorded",
                          {{"job", job.id()}, {"error", to_valid_utf8(e.what())}});
                co_return;
            }
            asio::steady_timer t(executor, std::min(config.retry_max_delay,
                                                    std::chrono::milliseconds(500 << std::min(attempt, 6))));
            boost::system::error_code wait_ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        }
    }

    struct pending_checkpoint {
        explicit pending_checkpoint(asio::any_io_executor ex) : done(std::move(ex)) {}
        event done;
        std::exception_ptr error;
        bool still_running = true;
    };

    // The checkpoint: the chunk's bytes (already written) made durable, then the record that vouches for
    // them. The job's committed state moves only when both succeeded.
    asio::awaitable<void> run_checkpoint(running_job& job, detail::file_writer& writer,
                                         std::shared_ptr<pending_checkpoint> p, std::int64_t last,
                                         std::int64_t rows, std::int64_t bytes) {
        try {
            co_await writer.async_datasync();
            auto checkpoint = [id = job.id(), last, rows, bytes, attempts = job.attempts](job_store& s) {
                return s.checkpoint(id, last, rows, bytes, attempts);
            };
            p->still_running = co_await on_store(std::move(checkpoint));
            if (p->still_running) {
                // What the metrics count: rows and bytes vouched for, so a chunk exported again after a
                // failed attempt is not counted twice.
                stats.rows_exported += rows - job.rows;
                stats.bytes_written += bytes - job.bytes;
                job.last_id = last;
                job.rows = rows;
                job.bytes = bytes;
                job.consecutive_failures = 0;
            }
        } catch (...) {
            p->error = std::current_exception();
        }
        p->done.set();
    }

    // Waits for the checkpoint in flight, if any, and rethrows its failure.
    asio::awaitable<void> await_checkpoint(running_job& job, std::shared_ptr<pending_checkpoint>& p) {
        if (!p)
            co_return;
        co_await p->done.async_wait();
        auto finished = std::move(p);
        if (finished->error)
            std::rethrow_exception(finished->error);
        if (!finished->still_running) {
            job.cancel_requested = true;
            throw stop_job{};
        }
    }

    // Appends the rows of a chunk: reads the key off each row and writes the rest.
    struct chunk_sink final : detail::copy_sink {
        chunk_sink(detail::file_writer& w, running_job& j, bool single, bool key_leads)
            : writer(w), job(j), single_column(single), key_leads(key_leads) {}
        bool consume(std::string_view row) override {
            ++count;
            ++job.live_rows;
            if (key_leads) {
                // The row is the output row already; its first column is the key.
                auto key = detail::leading_key(row);
                if (!key)
                    throw std::runtime_error("COPY sent a row that does not start with the key");
                last_key = *key;
                return writer.append(row);
            }
            auto split = detail::split_keyed_row(row);
            if (!split)
                throw std::runtime_error("COPY sent a row that does not start with the key");
            last_key = split->key;
            return writer.append(single_column ? detail::single_column_row(split->rest) : split->rest);
        }
        asio::awaitable<void> async_drain() override {
            co_await writer.async_write_behind();
            job.live_bytes = writer.size();
            if (job.should_stop())
                throw stop_job{};
        }
        detail::file_writer& writer;
        running_job& job;
        bool single_column;
        bool key_leads;
        std::int64_t last_key = 0;
        std::int64_t count = 0;
    };

    // Writes rows as they come (the header).
    struct raw_sink final : detail::copy_sink {
        explicit raw_sink(detail::file_writer& w) : writer(w) {}
        bool consume(std::string_view row) override { return writer.append(row); }
        asio::awaitable<void> async_drain() override { co_await writer.async_write_behind(); }
        detail::file_writer& writer;
    };

    asio::awaitable<void> export_from_checkpoint(running_job& job) {
        const std::string& id = job.id();
        const export_request& request = job.job.info.request;
        const fs::path part = part_path(id);
        const fs::path final = final_path(id);

        const detail::resume_plan plan = detail::plan_resume(
            {job.bytes}, {detail::file_writer::length_of(part), detail::file_writer::length_of(final)});
        switch (plan.action) {
        case detail::resume_action::finish:
            // A crash between the rename and the database update leaves the finished file: it is complete.
            co_await finish(job, final);
            co_return;
        case detail::resume_action::restart:
            // The data directory was changed behind our back: the checkpoint cannot be trusted.
            log_event("warning", "job_restarted", {{"job", id}, {"reason", plan.reason}});
            job.last_id.reset();
            job.rows = 0;
            job.bytes = 0;
            break;
        case detail::resume_action::start:
        case detail::resume_action::resume:
            break; // the writer truncates the partial file to job.bytes
        }
        job.live_rows = job.rows;
        job.live_bytes = job.bytes;
        detail::file_writer writer(executor, file_pool, part, job.bytes, config.write_buffer_bytes);

        detail::async_connection connection(executor);
        job.connection = &connection;
        struct unlink_connection {
            running_job& j;
            ~unlink_connection() { j.connection = nullptr; }
        } unlink{job};
        const bool single = detail::output_columns(schema, request).size() == 1;
        const bool leads = detail::key_leads(schema, request);
        // The checkpoint of chunk N runs (fdatasync, then the UPDATE) while chunk N+1 streams; at most one
        // is in flight. Every way out of here waits for it and for the write in flight: a stale write
        // landing after the next attempt's truncation would corrupt the file.
        std::shared_ptr<pending_checkpoint> pending;
        std::exception_ptr failure;
        try {
            if (job.should_stop())
                throw stop_job{};
            co_await connection.async_connect(config.database_url, config.statement_timeout,
                                              config.connect_timeout);
            if (job.bytes == 0) {
                raw_sink header(writer);
                co_await connection.async_copy_out(detail::header_copy_sql(schema, request), header);
            }
            std::optional<std::int64_t> cursor = job.last_id;
            std::int64_t cursor_rows = job.rows;
            while (job.job.key_upper_bound) {
                if (job.should_stop())
                    throw stop_job{};
                chunk_sink sink(writer, job, single, leads);
                const std::string sql = detail::chunk_copy_sql(schema, request, cursor,
                                                               *job.job.key_upper_bound, config.chunk_rows);
                const auto chunk_start = std::chrono::steady_clock::now();
                co_await connection.async_copy_out(sql, sink);
                record_chunk(std::chrono::steady_clock::now() - chunk_start);
                if (sink.count == 0)
                    break;
                co_await writer.async_flush();
                job.live_bytes = writer.size();
                co_await await_checkpoint(job, pending);
                cursor = sink.last_key;
                cursor_rows += sink.count;
                pending = std::make_shared<pending_checkpoint>(executor);
                asio::co_spawn(executor,
                               run_checkpoint(job, writer, pending, *cursor, cursor_rows, writer.size()),
                               asio::detached);
                if (sink.count < config.chunk_rows)
                    break;
            }
            co_await await_checkpoint(job, pending);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            if (pending)
                co_await pending->done.async_wait(); // its outcome no longer matters, only its end
            co_await writer.async_settle();
            std::rethrow_exception(failure);
        }
        co_await writer.async_sync();
        job.bytes = writer.size();
        connection.close();
        detail::durable_rename(part, final);
        co_await finish(job, final);
    }

    asio::awaitable<void> finish(running_job& job, const fs::path& final) {
        const std::int64_t bytes = detail::file_writer::length_of(final);
        auto complete = [id = job.id(), path = final.string(), rows = job.rows, bytes,
                         attempts = job.attempts](job_store& s) {
            return s.complete(id, path, rows, bytes, attempts);
        };
        const std::optional<job_status> now = co_await on_store(std::move(complete));
        if (now != job_status::completed) {
            // Cancelled at the last moment (the record says so, and never completed): the file goes.
            std::error_code ec;
            fs::remove(final, ec);
            job.cancel_requested = true;
            throw stop_job{};
        }
        log_event("info", "job_completed", {{"job", job.id()}, {"rows", job.rows}, {"bytes", bytes}});
    }

    // Fixes every filter value as PostgreSQL reads it now ('now' or 'today' must not move between
    // chunks); the problem when one does not parse as its column's type. On the store thread.
    std::optional<problem> canonicalize(job_store& s, export_request& request) const {
        for (filter& f : request.filters) {
            const std::string& type = schema.find(f.column)->type;
            for (auto& v : f.values) {
                if (!v)
                    continue;
                auto canonical = s.canonical_value(f.column, type, *v);
                if (!canonical)
                    return canonical.error();
                *v = std::move(*canonical);
            }
        }
        return std::nullopt;
    }

    void record_chunk(std::chrono::steady_clock::duration took) {
        const double seconds = std::chrono::duration<double>(took).count();
        ++stats.chunks;
        stats.chunk_seconds_sum += seconds;
        for (std::size_t i = 0; i < engine_stats::chunk_buckets.size(); ++i)
            if (seconds <= engine_stats::chunk_buckets[i])
                ++stats.chunk_seconds_le[i];
    }

    // The job as this process knows it without asking the database, or nullopt.
    std::optional<job_info> known_job(const std::string& id) const {
        if (auto it = ended.find(id); it != ended.end())
            return it->second;
        if (auto it = running.find(id); it != running.end()) {
            job_info info = it->second->job.info;
            info.status = job_status::running;
            info.last_processed_id = it->second->last_id;
            info.rows_exported = std::max(it->second->rows, it->second->live_rows);
            info.bytes_written = std::max(it->second->bytes, it->second->live_bytes);
            info.attempts = it->second->attempts;
            return info;
        }
        for (const auto& j : queue)
            if (j.info.id == id)
                return j.info;
        return std::nullopt;
    }

    // Keeps a job that has ended (completed, failed, cancelled) for status look-ups; bounded, oldest out.
    void remember_if_ended(const job_info& info) {
        if (info.status == job_status::queued || info.status == job_status::running)
            return;
        if (ended.emplace(info.id, info).second) {
            ended_order.push_back(info.id);
            if (ended_order.size() > max_remembered) {
                ended.erase(ended_order.front());
                ended_order.pop_front();
            }
        }
    }

    void apply_live(job_info& info) const {
        auto it = running.find(info.id);
        if (it == running.end() || info.status != job_status::running)
            return;
        info.rows_exported = std::max(info.rows_exported, it->second->live_rows);
        info.bytes_written = std::max(info.bytes_written, it->second->live_bytes);
        if (it->second->last_id)
            info.last_processed_id = it->second->last_id;
    }

    asio::any_io_executor executor;
    engine_config config;
    asio::thread_pool store_pool{1};
    asio::thread_pool file_pool{2};
    job_store store; // touched only on store_pool
    table_schema schema;
    std::deque<stored_job> queue;
    std::map<std::string, std::shared_ptr<running_job>> running;
    bool stopping = false;
    bool started = false;
    static constexpr std::size_t max_remembered = 4096;
    std::map<std::string, job_info> ended;
    std::deque<std::string> ended_order;
    boost::uuids::random_generator uuid_generator;
    std::minstd_rand random{std::random_device{}()};
    engine_stats stats;
};

export_engine::export_engine(asio::any_io_executor executor, engine_config config)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(config))) {}

export_engine::~export_engine() = default;

const table_schema& export_engine::schema() const {
    return impl_->schema;
}
const engine_config& export_engine::config() const {
    return impl_->config;
}
fs::path export_engine::file_for(const std::string& id) const {
    return impl_->final_path(id);
}

asio::awaitable<void> export_engine::async_start() {
    auto& self = *impl_;
    std::error_code ec;
    fs::create_directories(self.config.data_dir, ec);
    if (ec)
        throw std::runtime_error("cannot create the data directory " + self.config.data_dir.string() + ": " +
                                 ec.message());
    const fs::path probe = self.config.data_dir / ".pgexport-write-test";
    {
        detail::file_writer w(self.executor, self.file_pool, probe, 0, 1);
        (void)w;
    }
    fs::remove(probe, ec);
    if (self.config.apply_migrations) {
        auto migrate = [url = self.config.database_url](job_store&) {
            try {
                return apply_migrations(url);
            } catch (const std::runtime_error& e) {
                // apply_migrations reports every failure alike; a refused connection is worth a retry.
                if (std::string_view(e.what()).find("cannot connect") != std::string_view::npos)
                    throw unavailable_error(e.what());
                throw;
            }
        };
        const int applied = co_await self.on_store(std::move(migrate));
        log_event("info", "migrations_applied", {{"count", applied}});
    }
    auto load = [table = self.config.table, key = self.config.key](job_store& s) {
        return s.load_schema(table, key);
    };
    self.schema = co_await self.on_store(std::move(load));
    auto unfinished = co_await self.on_store([](job_store& s) { return s.unfinished(); });
    if (!unfinished.empty())
        log_event("info", "jobs_resumed", {{"count", unfinished.size()}});
    self.started = true;
    for (auto& job : unfinished)
        self.enqueue(std::move(job));
}

bool export_engine::started() const {
    return impl_->started;
}

asio::awaitable<result<std::string>> export_engine::async_create(export_request request,
                                                                 std::optional<std::string> owner) {
    auto& self = *impl_;
    if (self.stopping)
        co_return problem{errc::unavailable, "the server is shutting down"};
    if (!self.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    if (self.queue.size() >= self.config.max_queued)
        co_return problem{errc::too_busy, std::to_string(self.queue.size()) +
                                              " exports are already waiting; try again when some have finished"};
    if (auto p = detail::check_columns(self.schema, request))
        co_return *p;
    stored_job job;
    std::string unavailable;
    job.info.id = boost::uuids::to_string(self.uuid_generator());
    job.info.created_at =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    job.info.owner = std::move(owner);
    try {
        auto create = [&self, &job,
                       request = std::move(request)](job_store& s) mutable -> result<stored_job> {
            if (auto p = self.canonicalize(s, request))
                return *p;
            job.info.request = std::move(request);
            job.key_upper_bound = s.max_key(self.schema);
            // Planned even on an empty table: that is what proves every filter's operator exists for its
            // column's type (json has no "=", for one) before the job is accepted.
            try {
                job.info.total_rows_estimate = s.estimate_rows(
                    detail::estimate_sql(self.schema, job.info.request, job.key_upper_bound.value_or(0)));
            } catch (const detail::pg_error& e) {
                if (!e.sqlstate().starts_with("42"))
                    throw;
                return problem{errc::invalid_value,
                               std::string("a filter does not fit its column's type: ") + e.what()};
            }
            if (!job.key_upper_bound)
                job.info.total_rows_estimate = 0;
            s.insert(job.info, job.key_upper_bound);
            return job;
        };
        auto created = co_await self.on_store(std::move(create));
        if (!created)
            co_return created.error();
        std::string id = created->info.id;
        log_event("info", "job_created", {{"job", id}});
        self.enqueue(std::move(*created));
        co_return id;
    } catch (const unavailable_error& e) {
        unavailable = e.what();
    }
    co_return problem{errc::unavailable, unavailable};
}

asio::awaitable<result<job_info>> export_engine::async_status(std::string id, owner_filter owner) {
    auto& self = *impl_;
    auto normalized = normalize_job_id(id);
    if (!normalized)
        co_return problem{errc::invalid_request, "malformed job id: expected a UUID"};
    // From memory when this process knows the answer: jobs that have ended never change again, and the
    // running and waiting ones are this process's own. Only the rest costs a database round trip.
    std::optional<job_info> info = self.known_job(*normalized);
    if (!info) {
        auto get = [id = *normalized](job_store& s) { return s.get(id); };
        auto job = co_await self.on_store(std::move(get));
        if (job) {
            info = std::move(job->info);
            self.remember_if_ended(*info);
            self.apply_live(*info);
        }
    }
    if (!info || (owner && info->owner != owner))
        co_return problem{errc::not_found, "no export job " + *normalized};
    co_return *info;
}

asio::awaitable<std::vector<job_info>> export_engine::async_list(owner_filter owner, int limit) {
    auto& self = *impl_;
    auto list = [owner, limit](job_store& s) { return s.list(owner, limit); };
    auto jobs = co_await self.on_store(std::move(list));
    std::vector<job_info> out;
    out.reserve(jobs.size());
    for (auto& j : jobs) {
        self.apply_live(j.info);
        out.push_back(std::move(j.info));
    }
    co_return out;
}

asio::awaitable<result<job_info>> export_engine::async_cancel(std::string id, owner_filter owner) {
    auto& self = *impl_;
    auto current = co_await async_status(id, owner);
    if (!current)
        co_return current.error();
    const std::string& job_id = current->id;
    auto cancel = [job_id](job_store& s) { return s.cancel(job_id); };
    auto before = co_await self.on_store(std::move(cancel));
    if (!before)
        co_return problem{errc::not_found, "no export job " + job_id};
    if (*before != job_status::queued && *before != job_status::running)
        co_return problem{errc::conflict, "job " + job_id + " is already " + std::string(to_string(*before))};
    std::erase_if(self.queue, [&](const stored_job& j) { return j.info.id == job_id; });
    if (auto it = self.running.find(job_id); it != self.running.end()) {
        it->second->cancel_requested = true;
        it->second->interrupt();
    }
    std::error_code ec;
    fs::remove(self.part_path(job_id), ec);
    log_event("info", "job_cancel_requested", {{"job", job_id}});
    // From the database: the job's coroutine may not have noticed yet, but the record is final.
    auto get = [job_id](job_store& s) { return s.get(job_id); };
    auto cancelled = co_await self.on_store(std::move(get));
    if (!cancelled)
        co_return problem{errc::not_found, "no export job " + job_id};
    self.remember_if_ended(cancelled->info);
    co_return cancelled->info;
}

asio::awaitable<bool> export_engine::async_ping() {
    co_return co_await impl_->on_store([](job_store& s) { return s.ping(); });
}

asio::awaitable<std::map<job_status, std::int64_t>> export_engine::async_count_jobs() {
    co_return co_await impl_->on_store([](job_store& s) { return s.count_by_status(); });
}

asio::awaitable<result<records_page>>
export_engine::async_list_records(export_request request, std::optional<std::int64_t> after, int limit) {
    auto& self = *impl_;
    if (!self.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    if (auto p = detail::check_columns(self.schema, request))
        co_return *p;
    using rows_or_problem = result<std::vector<std::pair<std::int64_t, std::string>>>;
    auto query = [&self, request = std::move(request), after,
                  limit](job_store& s) mutable -> rows_or_problem {
        if (auto p = self.canonicalize(s, request))
            return *p;
        return s.records(detail::records_page_sql(self.schema, request, after, limit));
    };
    rows_or_problem rows = problem{errc::unavailable, ""};
    try {
        rows = co_await self.on_store(std::move(query));
    } catch (const unavailable_error& e) {
        rows = problem{errc::unavailable, e.what()};
    }
    if (!rows)
        co_return rows.error();
    records_page page;
    for (auto& [key, json] : *rows)
        page.rows_json.push_back(std::move(json));
    if (static_cast<int>(rows->size()) == limit && !rows->empty())
        page.next_after = rows->back().first;
    co_return page;
}

const engine_stats& export_engine::stats() const {
    return impl_->stats;
}
std::size_t export_engine::running_count() const {
    return impl_->running.size();
}
std::size_t export_engine::queued_count() const {
    return impl_->queue.size();
}

asio::awaitable<void> export_engine::async_shutdown() {
    auto& self = *impl_;
    self.stopping = true;
    self.queue.clear();
    auto jobs = self.running;
    for (auto& [id, job] : jobs) {
        job->stop_requested = true;
        job->interrupt();
    }
    for (auto& [id, job] : jobs)
        co_await job->done->async_wait();
}

} // namespace pgexport::engine
