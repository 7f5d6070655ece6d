// The engine's public face: start-up, creating jobs, status, listing, cancel and delete, the records
// listing and shutdown. The work is done by the parts in the folders beside this file: the scheduler claims jobs from the shared
// queue, job_runner runs one, chunk_copier streams its chunks, the sweeper applies the retention,
// job_repository and table_catalog talk to the database.

#include "files/data_dir.hpp"
#include "format/sql.hpp"
#include "lifecycle/instance_start.hpp"
#include "lifecycle/sweeper.hpp"
#include "notify/webhook_service.hpp"
#include "queue/job_intake.hpp"
#include "queue/job_lookup.hpp"
#include "queue/scheduler.hpp"
#include "runtime/engine_state.hpp"
#include "runtime/job_watch_impl.hpp"
#include "queue/job_download.hpp"
#include "storage/export_storage.hpp"
#include "util/text_checks.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>

#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine {

namespace {

using detail::job_repository;
using detail::normalize_job_id;
using detail::stored_job;
using detail::table_catalog;


} // namespace

// The database being away, as the facade answers it: a problem, never an exception. The client is told
// no more than that (the error's text names hosts and sockets); the log has it.
template <class T> asio::awaitable<result<T>> unavailable_as_problem(asio::awaitable<result<T>> work) {
    try {
        co_return co_await std::move(work);
    } catch (const unavailable_error& e) {
        log_event("warning", "database_unavailable", {{"error", e.what()}});
    }
    co_return problem{errc::unavailable, "the database is unavailable right now; try again shortly"};
}

struct export_engine::impl {
    impl(asio::any_io_executor ex, engine_config cfg) : state(std::move(ex), detail::with_defaults(std::move(cfg))) {}

    // Which jobs an instance serves depends on its tables, known once it has started.
    std::optional<problem> unless_started() const {
        if (!state.started)
            return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
        return std::nullopt;
    }

    // After the record of a queued or running job says cancelled: stops it if it runs here (elsewhere its
    // instance notices at its next renewal, within about a second), removes its partial files whichever
    // lease wrote them, and reads the final record back.
    asio::awaitable<result<job_info>> after_cancel(const std::string& job_id) {
        scheduler.stop_job(job_id, detail::stop_cause::cancelled);
        state.progress->notify(job_id); // a queued job has no coroutine of its own to say it ended
        // The record is final: no lease can write the job's files again.
        auto clean = [this, job_id] { state.files.remove_partials(job_id); };
        co_await detail::async_offload(state.file_pool, std::move(clean));
        log_event("info", "job_cancel_requested", {{"job", job_id}});
        // From the database: the job's coroutine may not have noticed yet, but the record is final.
        auto get = [job_id, tables = state.tables()](job_repository& r) { return r.get(job_id, tables); };
        auto cancelled = co_await state.on_jobs(std::move(get));
        if (!cancelled)
            co_return problem{errc::not_found, "no export job " + job_id};
        state.remember_if_ended(cancelled->info);
        co_return lookup.with_expiry(cancelled->info);
    }

    // The requests as they run, throwing unavailable_error while the database is away.
    asio::awaitable<result<job_info>> status(std::string id, owner_filter owner);
    asio::awaitable<result<job_list>> list(owner_filter owner, int limit);
    asio::awaitable<result<job_info>> cancel(std::string id, owner_filter owner);
    asio::awaitable<result<delete_result>> remove(std::string id, owner_filter owner);
    asio::awaitable<result<sweep_report>> sweep();
    asio::awaitable<result<std::map<job_status, std::int64_t>>> count();
    asio::awaitable<result<int>> rename_owner(std::string from, std::string to) {
        auto rename = [from, to](job_repository& r) { return r.rename_owner(from, to); };
        const int renamed = co_await state.on_jobs(std::move(rename));
        // The jobs running here were read before: their status shows the new owner too.
        for (const auto& job : state.running.all())
            if (job->job.info.owner == from)
                job->job.info.owner = to;
        co_return renamed;
    }

    detail::engine_state state;
    detail::job_lookup lookup{state};
    detail::scheduler scheduler{state};
    detail::sweeper sweeper{state};
    // Notifications: only with a webhook key (notify_config::key).
    std::unique_ptr<detail::webhook_service> webhooks = detail::make_webhook_service(state);
    boost::uuids::random_generator uuid_generator;
};

export_engine::export_engine(asio::any_io_executor executor, engine_config config)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(config))) {}

export_engine::~export_engine() = default;

const table_schema& export_engine::schema() const {
    return impl_->state.schema;
}
const std::vector<table_schema>& export_engine::schemas() const {
    return impl_->state.schemas;
}
const engine_config& export_engine::config() const {
    return impl_->state.config;
}
asio::awaitable<result<export_download>> export_engine::async_open_download(const job_info& job,
                                                                            std::chrono::seconds ttl) {
    co_return co_await detail::async_open_download(impl_->state, job, ttl);
}
void export_engine::set_notification_data(std::function<std::string(const job_info&)> format) {
    if (impl_->webhooks)
        impl_->webhooks->set_data_formatter(std::move(format));
}
asio::awaitable<std::optional<std::string>> export_engine::async_storage_problem() {
    co_return co_await impl_->state.storage->async_problem();
}
const table_schema* export_engine::find_schema(const std::string& name) const {
    return impl_->state.find_schema(name);
}
job_watch export_engine::watch(const std::string& id) {
    auto subscription = detail::progress_hub::subscribe(impl_->state.progress, normalize_job_id(id).value_or(id));
    return job_watch(std::make_unique<job_watch::impl>(job_watch::impl{std::move(subscription)}));
}

asio::awaitable<void> export_engine::async_start() {
    auto& st = impl_->state;
    co_await detail::async_start_instance(st);
    st.started = true;
    log_event("info", "instance_started", {{"instance", st.config.instance_id}});
    if (impl_->webhooks)
        st.webhooks_due = [w = impl_->webhooks.get()] { w->wake(); }; // the scheduler's listener hears the outbox
    impl_->scheduler.start();
    impl_->sweeper.start();
    if (impl_->webhooks)
        impl_->webhooks->start();
}

bool export_engine::started() const {
    return impl_->state.started;
}

asio::awaitable<result<std::string>> export_engine::async_create(export_request request,
                                                                 std::optional<std::string> owner,
                                                                 std::optional<std::string> quota_key) {
    auto& self = *impl_;
    auto& st = self.state;
    if (st.stopping)
        co_return problem{errc::unavailable, "the server is shutting down"};
    if (!st.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    // An incremental export takes what it leaves out from the job it continues, and starts after its end.
    const auto from_key = co_await detail::async_resolve_since(st, request, owner);
    if (!from_key)
        co_return from_key.error();
    auto schema = detail::schema_for(st, request);
    if (!schema)
        co_return schema.error();
    if (auto p = detail::check_columns(**schema, request))
        co_return *p;
    if (auto p = co_await detail::async_check_free_space(st))
        co_return *p;
    if (request.notify)
        if (auto p = co_await detail::async_check_notify(st, *request.notify))
            co_return *p;
    // Above the server's cap the request gets the cap: it asked for speed, not for a number of connections.
    request.parallelism = std::clamp(request.parallelism, 1, std::max(1, st.config.max_parallelism));
    stored_job job;
    job.info.id = boost::uuids::to_string(self.uuid_generator());
    job.info.created_at =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    job.info.owner = std::move(owner);
    job.info.from_key = *from_key;
    job.quota_key = std::move(quota_key);
    job.table = (*schema)->table;
    job.key = (*schema)->key;
    job.storage = st.storage_id;
    std::string unavailable;
    try {
        auto prepare = [&job, &schema = **schema, request = std::move(request),
                        min_slice_rows = st.config.min_slice_rows](table_catalog& c) mutable {
            return detail::prepare_job(c, schema, std::move(job), std::move(request), min_slice_rows);
        };
        auto prepared = co_await st.on_catalog(std::move(prepare));
        if (!prepared)
            co_return prepared.error();
        const detail::insert_quota quota{st.config.max_jobs_per_key, st.config.max_request_bytes_per_key};
        auto insert = [&prepared, max = st.config.max_queued, quota](job_repository& r) {
            return r.insert(*prepared, max, quota);
        };
        const auto outcome = co_await st.on_jobs(std::move(insert));
        if (outcome == detail::insert_outcome::queue_full)
            co_return problem{errc::too_busy, std::to_string(st.config.max_queued) +
                                                  " exports are already waiting; try again when some have finished"};
        if (outcome == detail::insert_outcome::request_bytes_full) {
            const auto stored = static_cast<std::uint64_t>(outcome.stored_bytes);
            const auto asked = static_cast<std::uint64_t>(outcome.request_bytes);
            co_return problem{errc::too_many_jobs,
                              "your exports' stored requests take " + detail::format_size(stored) + ", and this one's " +
                                  detail::format_size(asked) +
                                  " would pass the most one client may keep (--max-request-bytes-per-key " +
                                  detail::format_size(st.config.max_request_bytes_per_key) +
                                  "); delete ended exports you no longer need (DELETE /api/export/{id}), or "
                                  "send fewer filter values"};
        }
        if (outcome == detail::insert_outcome::quota_full)
            co_return problem{errc::too_many_jobs,
                              "you have " + std::to_string(st.config.max_jobs_per_key) +
                                  " exports queued or running, the most one client may have at once"
                                  " (--max-jobs-per-key " + std::to_string(st.config.max_jobs_per_key) +
                                  "); try again when one has finished, or cancel one"};
        log_event("info", "job_created",
                  {{"job", prepared->info.id}, {"slices", prepared->info.request.parallelism}});
        self.scheduler.wake();
        co_return prepared->info.id;
    } catch (const unavailable_error& e) {
        unavailable = e.what();
    }
    co_return problem{errc::unavailable, unavailable};
}

asio::awaitable<result<job_info>> export_engine::impl::status(std::string id, owner_filter owner) {
    auto& self = *this;
    auto normalized = normalize_job_id(id);
    if (!normalized)
        co_return problem{errc::invalid_request, "malformed job id: expected a UUID"};
    co_return co_await self.lookup.status(*normalized, owner);
}

asio::awaitable<result<job_list>> export_engine::impl::list(owner_filter owner, int limit) {
    if (auto p = unless_started())
        co_return *p;
    co_return co_await lookup.list(std::move(owner), limit);
}

asio::awaitable<result<job_info>> export_engine::impl::cancel(std::string id, owner_filter owner) {
    auto& self = *this;
    auto& st = self.state;
    auto current = co_await status(id, owner);
    if (!current)
        co_return current.error();
    const std::string& job_id = current->id;
    auto cancel = [job_id, tables = st.tables()](job_repository& r) { return r.cancel(job_id, tables); };
    auto before = co_await st.on_jobs(std::move(cancel));
    if (!before)
        co_return problem{errc::not_found, "no export job " + job_id};
    if (*before != job_status::queued && *before != job_status::running)
        co_return problem{errc::conflict, "job " + job_id + " is already " + std::string(to_string(*before))};
    co_return co_await self.after_cancel(job_id);
}

asio::awaitable<result<delete_result>> export_engine::impl::remove(std::string id, owner_filter owner) {
    auto& self = *this;
    auto& st = self.state;
    auto current = co_await status(id, owner);
    if (!current)
        co_return current.error();
    const std::string job_id = current->id;
    auto remove = [job_id, tables = st.tables()](job_repository& r) { return r.cancel_or_delete(job_id, tables); };
    auto before = co_await st.on_jobs(std::move(remove));
    if (!before)
        co_return problem{errc::not_found, "no export job " + job_id};
    if (*before == job_status::queued || *before == job_status::running) {
        auto cancelled = co_await self.after_cancel(job_id);
        if (!cancelled)
            co_return cancelled.error();
        co_return delete_result{delete_action::cancelled, std::move(*cancelled)};
    }
    // The record is gone first: should the process stop before the files go, they are orphans, which the
    // sweeper removes.
    st.forget(job_id);
    auto clean = [&st, job_id] {
        st.files.remove_partials(job_id);
        std::error_code ec;
        fs::remove(st.files.final(job_id), ec);
    };
    co_await detail::async_offload(st.file_pool, std::move(clean));
    if (*before == job_status::completed) {
        std::vector<std::string> gone{job_id};
        try {
            co_await st.storage->async_remove(std::move(gone));
        } catch (const std::exception& e) {
            // The record is gone: the object is left to the bucket's lifecycle rule (docs/scaling.md).
            log_event("warning", "s3_remove_failed", {{"job", job_id}, {"error", e.what()}});
        }
    }
    log_event("info", "job_deleted", {{"job", job_id}, {"status", to_string(*before)}});
    current->status = *before;
    co_return delete_result{delete_action::deleted, self.lookup.with_expiry(*current)};
}

asio::awaitable<result<sweep_report>> export_engine::impl::sweep() {
    if (auto p = unless_started())
        co_return *p;
    co_return co_await sweeper.async_run_once();
}

asio::awaitable<result<std::map<job_status, std::int64_t>>> export_engine::impl::count() {
    if (auto p = unless_started())
        co_return *p;
    auto count = [tables = state.tables()](job_repository& r) { return r.count_by_status(tables); };
    co_return co_await state.on_reads(std::move(count));
}

// The requests: the database being away comes back as a problem (unavailable_as_problem).
asio::awaitable<result<job_info>> export_engine::async_status(std::string id, owner_filter owner) {
    co_return co_await unavailable_as_problem(impl_->status(std::move(id), std::move(owner)));
}
asio::awaitable<result<job_list>> export_engine::async_list(owner_filter owner, int limit) {
    co_return co_await unavailable_as_problem(impl_->list(std::move(owner), limit));
}
asio::awaitable<result<job_info>> export_engine::async_cancel(std::string id, owner_filter owner) {
    co_return co_await unavailable_as_problem(impl_->cancel(std::move(id), std::move(owner)));
}
asio::awaitable<result<delete_result>> export_engine::async_delete(std::string id, owner_filter owner) {
    co_return co_await unavailable_as_problem(impl_->remove(std::move(id), std::move(owner)));
}
asio::awaitable<result<sweep_report>> export_engine::async_sweep() {
    co_return co_await unavailable_as_problem(impl_->sweep());
}
asio::awaitable<result<std::map<job_status, std::int64_t>>> export_engine::async_count_jobs() {
    co_return co_await unavailable_as_problem(impl_->count());
}
asio::awaitable<result<int>> export_engine::async_rename_owner(std::string from, std::string to) {
    co_return co_await unavailable_as_problem(impl_->rename_owner(std::move(from), std::move(to)));
}

asio::awaitable<bool> export_engine::async_ping() {
    auto ping = [&health = impl_->state.health] {
        try {
            health.run("SELECT 1");
            return true;
        } catch (const detail::pg_error&) {
            return false;
        }
    };
    co_return co_await detail::async_offload(impl_->state.health_pool, std::move(ping));
}

asio::awaitable<result<records_page>>
export_engine::async_list_records(export_request request, std::optional<std::int64_t> after, int limit) {
    co_return co_await detail::async_records_page(impl_->state, std::move(request), after, limit);
}

const engine_stats& export_engine::stats() const {
    return impl_->state.stats;
}
std::size_t export_engine::running_count() const {
    return impl_->state.running.size();
}

held_snapshots export_engine::snapshots_held() const {
    const auto [count, since] = impl_->state.running.snapshots_held();
    return {count, since ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *since).count() : 0.0};
}

asio::awaitable<void> export_engine::async_shutdown() {
    impl_->state.progress->stop(); // the followers end first: no job will change here any more
    if (impl_->webhooks) {
        impl_->state.webhooks_due = nullptr;
        co_await impl_->webhooks->async_stop(); // tries in flight given back: the next start makes them
    }
    co_await impl_->sweeper.async_stop();
    co_await impl_->scheduler.async_stop();
    impl_->state.rows_sessions.close_all(); // no stream runs any more
}

} // namespace pgexport::engine
