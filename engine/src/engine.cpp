// The engine's public face: start-up, creating jobs, status, listing, cancel and delete, the records
// listing and shutdown. The work is done by the parts in the folders beside this file: the scheduler claims jobs from the shared
// queue, job_runner runs one, chunk_copier streams its chunks, the sweeper applies the retention,
// job_repository and table_catalog talk to the database.

#include "files/data_dir.hpp"
#include "runtime/engine_state.hpp"
#include "files/file_writer.hpp"
#include "queue/job_intake.hpp"
#include "queue/job_lookup.hpp"
#include "protection/replica_gate.hpp"
#include "queue/scheduler.hpp"
#include "format/sql.hpp"
#include "policy/sweep_policy.hpp"
#include "lifecycle/sweeper.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>

#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine {

namespace {

using detail::job_repository;
using detail::stored_job;
using detail::table_catalog;

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

// host:pid, the default name of an instance.
std::string default_instance_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0)
        std::snprintf(host, sizeof host, "localhost");
    return std::string(host) + ":" + std::to_string(::getpid());
}

engine_config with_defaults(engine_config c) {
    if (c.instance_id.empty())
        c.instance_id = default_instance_id();
    return c;
}

// The pid of a default instance name of this host ("host:pid"), or nullopt.
std::optional<pid_t> local_pid(const std::string& owner, const std::string& host) {
    if (!owner.starts_with(host + ":"))
        return std::nullopt;
    const std::string digits = owner.substr(host.size() + 1);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return static_cast<pid_t>(std::stol(digits));
}

} // namespace

struct export_engine::impl {
    impl(asio::any_io_executor ex, engine_config cfg) : state(std::move(ex), with_defaults(std::move(cfg))) {}

    // Which jobs an instance serves depends on its tables, known once it has started.
    void throw_unless_started() const {
        if (!state.started)
            throw unavailable_error("the server is starting: the database has not been reached yet");
    }

    // After the record of a queued or running job says cancelled: stops it if it runs here (elsewhere its
    // instance notices at its next renewal, within about a second), removes its partial files whichever
    // lease wrote them, and reads the final record back.
    asio::awaitable<result<job_info>> after_cancel(const std::string& job_id) {
        if (auto it = state.running.find(job_id); it != state.running.end()) {
            it->second->cancel_requested = true;
            it->second->interrupt();
        }
        state.progress->notify(job_id); // a queued job has no coroutine of its own to say it ended
        auto clean = [this, job_id] { state.remove_part_files(job_id); };
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

    detail::engine_state state;
    detail::job_lookup lookup{state};
    detail::scheduler scheduler{state};
    detail::sweeper sweeper{state};
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
fs::path export_engine::file_for(const std::string& id) const {
    return impl_->state.final_path(id);
}
std::optional<std::string> export_engine::download_redirect(const job_info& job, std::chrono::seconds ttl) const {
    return impl_->state.storage->redirect_for(job, ttl);
}
asio::awaitable<std::optional<std::string>> export_engine::async_storage_problem() {
    co_return co_await impl_->state.storage->async_problem();
}
const table_schema* export_engine::find_schema(const std::string& name) const {
    return impl_->state.find_schema(name);
}
job_watch export_engine::watch(const std::string& id) {
    return job_watch(detail::progress_hub::subscribe(impl_->state.progress, normalize_job_id(id).value_or(id)));
}

asio::awaitable<void> export_engine::async_start() {
    auto& st = impl_->state;
    if (detail::prepare_data_dir(st.config.data_dir) == detail::dir_mode_verdict::readable_by_others)
        log_event("warning", "data_dir_readable",
                  {{"dir", st.config.data_dir.string()},
                   {"why", "other users can list the names of the export files (the files are 0600);"
                           " chmod 700 the directory to hide them"}});
    std::error_code ec;
    const fs::path probe = st.config.data_dir / (".pgexport-write-test-" + std::to_string(::getpid()));
    {
        detail::file_writer w(st.executor, st.file_pool, probe, 0, 1);
        (void)w;
    }
    fs::remove(probe, ec);
    if (st.config.apply_migrations) {
        auto migrate = [url = st.config.database_url](table_catalog&) {
            try {
                return apply_migrations(url);
            } catch (const std::runtime_error& e) {
                // apply_migrations reports every failure alike; a refused connection is worth a retry.
                if (std::string_view(e.what()).find("cannot connect") != std::string_view::npos)
                    throw unavailable_error(e.what());
                throw;
            }
        };
        const int applied = co_await st.on_catalog(std::move(migrate));
        log_event("info", "migrations_applied", {{"count", applied}});
    }
    std::vector<std::pair<std::string, std::string>> tables{{st.config.table, st.config.key}};
    tables.insert(tables.end(), st.config.more_tables.begin(), st.config.more_tables.end());
    auto load = [tables](table_catalog& c) {
        std::vector<table_schema> schemas;
        for (const auto& [table, key] : tables)
            schemas.push_back(c.load_schema(table, key));
        return schemas;
    };
    st.schemas = co_await st.on_catalog(std::move(load));
    st.configured_names.clear();
    for (const auto& [table, key] : tables)
        st.configured_names.push_back(table);
    st.schema = st.schemas.front();
    co_await st.on_reads([](job_repository& r) { r.open(); });
    co_await detail::async_check_replica(st);
    auto adopt = [table = st.schema.table, key = st.schema.key](job_repository& r) {
        return r.adopt_unnamed(table, key);
    };
    if (const int adopted = co_await st.on_jobs(std::move(adopt)))
        log_event("info", "jobs_adopted", {{"count", adopted}, {"table", st.schema.table}});
    for (const auto& [from, to] : st.config.owner_renames) {
        auto rename = [from, to](job_repository& r) { return r.rename_owner(from, to); };
        if (const int renamed = co_await st.on_jobs(std::move(rename)))
            log_event("info", "jobs_owner_renamed", {{"count", renamed}});
    }
    // A process of this host that died holding leases (killed, crashed) will not renew them: its jobs are
    // taken over now rather than when the leases run out. Only default names (host:pid) say which process.
    const std::string host = st.config.instance_id.substr(0, st.config.instance_id.rfind(':'));
    auto held = [host, tables = st.tables()](job_repository& r) { return r.leases_held_on(host, tables); };
    const auto leases = co_await st.on_jobs(std::move(held));
    for (const auto& lease : leases) {
        const auto pid = local_pid(lease.owner, host);
        if (!pid || *pid == ::getpid() || ::kill(*pid, 0) == 0 || errno != ESRCH)
            continue;
        auto expire = [lease](job_repository& r) { r.expire(lease.job, lease.owner, lease.token); };
        co_await st.on_jobs(std::move(expire));
        log_event("info", "lease_of_dead_process_ended", {{"job", lease.job}, {"owner", lease.owner}});
    }
    st.started = true;
    log_event("info", "instance_started", {{"instance", st.config.instance_id}});
    impl_->scheduler.start();
    impl_->sweeper.start();
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
    auto schema = detail::schema_for(st, request);
    if (!schema)
        co_return schema.error();
    if (auto p = detail::check_columns(**schema, request))
        co_return *p;
    if (auto p = co_await detail::async_check_free_space(st))
        co_return *p;
    // Above the server's cap the request gets the cap: it asked for speed, not for a number of connections.
    request.parallelism = std::clamp(request.parallelism, 1, std::max(1, st.config.max_parallelism));
    stored_job job;
    job.info.id = boost::uuids::to_string(self.uuid_generator());
    job.info.created_at =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    job.info.owner = std::move(owner);
    job.quota_key = std::move(quota_key);
    job.table = (*schema)->table;
    job.key = (*schema)->key;
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

asio::awaitable<result<job_info>> export_engine::async_status(std::string id, owner_filter owner) {
    auto& self = *impl_;
    auto normalized = normalize_job_id(id);
    if (!normalized)
        co_return problem{errc::invalid_request, "malformed job id: expected a UUID"};
    co_return co_await self.lookup.status(*normalized, owner);
}

asio::awaitable<job_list> export_engine::async_list(owner_filter owner, int limit) {
    auto& self = *impl_;
    self.throw_unless_started();
    co_return co_await self.lookup.list(std::move(owner), limit);
}

asio::awaitable<result<job_info>> export_engine::async_cancel(std::string id, owner_filter owner) {
    auto& self = *impl_;
    auto& st = self.state;
    auto current = co_await async_status(id, owner);
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

asio::awaitable<result<delete_result>> export_engine::async_delete(std::string id, owner_filter owner) {
    auto& self = *impl_;
    auto& st = self.state;
    auto current = co_await async_status(id, owner);
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
        st.remove_part_files(job_id);
        std::error_code ec;
        fs::remove(st.final_path(job_id), ec);
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

asio::awaitable<sweep_report> export_engine::async_sweep() {
    impl_->throw_unless_started();
    co_return co_await impl_->sweeper.async_run_once();
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

asio::awaitable<std::map<job_status, std::int64_t>> export_engine::async_count_jobs() {
    impl_->throw_unless_started();
    auto count = [tables = impl_->state.tables()](job_repository& r) { return r.count_by_status(tables); };
    co_return co_await impl_->state.on_reads(std::move(count));
}

asio::awaitable<result<records_page>>
export_engine::async_list_records(export_request request, std::optional<std::int64_t> after, int limit) {
    auto& self = *impl_;
    if (!self.state.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    auto schema = detail::schema_for(self.state, request);
    if (!schema)
        co_return schema.error();
    if (auto p = detail::check_columns(**schema, request))
        co_return *p;
    using page_rows = std::vector<std::pair<std::int64_t, std::string>>;
    auto query = [&schema = **schema, request = std::move(request), after,
                  limit](table_catalog& c) mutable -> result<page_rows> {
        if (auto p = detail::canonicalize(c, schema, request))
            return *p;
        return c.records(detail::records_page_sql(schema, request, after, limit));
    };
    // On the listing's own connections (store/listing_pool): busy, or too slow, is a problem to answer.
    result<page_rows> rows = problem{errc::unavailable, ""};
    try {
        rows = co_await self.state.listings.async_run<page_rows>(std::move(query));
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
    return impl_->state.stats;
}
std::size_t export_engine::running_count() const {
    return impl_->state.running.size();
}

asio::awaitable<void> export_engine::async_shutdown() {
    impl_->state.progress->stop(); // the followers end first: no job will change here any more
    co_await impl_->sweeper.async_stop();
    co_await impl_->scheduler.async_stop();
}

} // namespace pgexport::engine
