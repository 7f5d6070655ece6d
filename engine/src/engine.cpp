// The engine's public face: start-up, creating jobs, status, listing, cancel, the records listing and
// shutdown. The work is done by the parts in detail/: the scheduler claims jobs from the shared queue,
// job_runner runs one, chunk_copier streams its chunks, job_repository and table_catalog talk to the
// database.

#include "detail/engine_state.hpp"
#include "detail/file_writer.hpp"
#include "detail/scheduler.hpp"
#include "detail/sql.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>

#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>

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

    // Fixes every filter value as PostgreSQL reads it now ('now' or 'today' must not move between
    // chunks); the problem when one does not parse as its column's type. On the catalog thread.
    std::optional<problem> canonicalize(table_catalog& c, const table_schema& schema,
                                        export_request& request) const {
        for (filter& f : request.filters) {
            const std::string& type = schema.find(f.column)->type;
            for (auto& v : f.values) {
                if (!v)
                    continue;
                auto canonical = c.canonical_value(f.column, type, *v);
                if (!canonical)
                    return canonical.error();
                *v = std::move(*canonical);
            }
        }
        return std::nullopt;
    }

    // The job as this process knows it without asking the database, or nullopt: the ones it runs (with
    // live progress) and the ones that ended here (they never change again).
    std::optional<job_info> known_job(const std::string& id) const {
        if (auto it = state.ended.find(id); it != state.ended.end())
            return it->second;
        if (auto it = state.running.find(id); it != state.running.end()) {
            const detail::running_job& j = *it->second;
            job_info info = j.job.info;
            info.status = job_status::running;
            info.last_processed_id = j.last_id;
            info.rows_exported = std::max(j.rows, j.live_rows);
            info.bytes_written = std::max(j.bytes, j.live_bytes);
            info.attempts = j.attempts;
            info.instance = state.config.instance_id;
            info.waiting = j.waiting;
            info.throttled = j.throttled;
            return info;
        }
        return std::nullopt;
    }

    // The schema a request names, or the problem: a table this instance does not serve.
    result<const table_schema*> schema_for(const export_request& request) const {
        const table_schema* schema = state.find_schema(request.table);
        if (!schema)
            return problem{errc::invalid_request, "this server exports no table \"" + request.table.value_or("") +
                                                      "\"; its tables: " + [&] {
                                                          std::string names;
                                                          for (const auto& t : state.tables())
                                                              names += (names.empty() ? "" : ", ") + t;
                                                          return names;
                                                      }()};
        return schema;
    }

    // Which jobs an instance serves depends on its tables, known once it has started.
    void throw_unless_started() const {
        if (!state.started)
            throw unavailable_error("the server is starting: the database has not been reached yet");
    }

    void apply_live(job_info& info) const {
        auto it = state.running.find(info.id);
        if (it == state.running.end() || info.status != job_status::running)
            return;
        info.rows_exported = std::max(info.rows_exported, it->second->live_rows);
        info.bytes_written = std::max(info.bytes_written, it->second->live_bytes);
        if (it->second->last_id)
            info.last_processed_id = it->second->last_id;
        info.waiting = it->second->waiting;
        info.throttled = it->second->throttled;
    }

    detail::engine_state state;
    detail::scheduler scheduler{state};
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

asio::awaitable<void> export_engine::async_start() {
    auto& st = impl_->state;
    std::error_code ec;
    fs::create_directories(st.config.data_dir, ec);
    if (ec)
        throw std::runtime_error("cannot create the data directory " + st.config.data_dir.string() + ": " +
                                 ec.message());
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
    auto adopt = [table = st.schema.table, key = st.schema.key](job_repository& r) {
        return r.adopt_unnamed(table, key);
    };
    if (const int adopted = co_await st.on_jobs(std::move(adopt)))
        log_event("info", "jobs_adopted", {{"count", adopted}, {"table", st.schema.table}});
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
}

bool export_engine::started() const {
    return impl_->state.started;
}

asio::awaitable<result<std::string>> export_engine::async_create(export_request request,
                                                                 std::optional<std::string> owner) {
    auto& self = *impl_;
    auto& st = self.state;
    if (st.stopping)
        co_return problem{errc::unavailable, "the server is shutting down"};
    if (!st.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    auto schema = self.schema_for(request);
    if (!schema)
        co_return schema.error();
    if (auto p = detail::check_columns(**schema, request))
        co_return *p;
    stored_job job;
    job.info.id = boost::uuids::to_string(self.uuid_generator());
    job.info.created_at =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    job.info.owner = std::move(owner);
    job.table = (*schema)->table;
    job.key = (*schema)->key;
    std::string unavailable;
    try {
        auto prepare = [&self, &job, &schema = **schema,
                        request = std::move(request)](table_catalog& c) mutable -> result<stored_job> {
            if (auto p = self.canonicalize(c, schema, request))
                return *p;
            job.info.request = std::move(request);
            job.key_upper_bound = c.max_key(schema);
            // Planned even on an empty table: that is what proves every filter's operator exists for its
            // column's type (json has no "=", for one) before the job is accepted.
            try {
                job.info.total_rows_estimate = c.estimate_rows(
                    detail::estimate_sql(schema, job.info.request, job.key_upper_bound.value_or(0)));
            } catch (const detail::pg_error& e) {
                if (!e.sqlstate().starts_with("42"))
                    throw;
                return problem{errc::invalid_value,
                               std::string("a filter does not fit its column's type: ") + e.what()};
            }
            if (!job.key_upper_bound)
                job.info.total_rows_estimate = 0;
            return job;
        };
        auto prepared = co_await st.on_catalog(std::move(prepare));
        if (!prepared)
            co_return prepared.error();
        auto insert = [&prepared, max = st.config.max_queued](job_repository& r) { return r.insert(*prepared, max); };
        if (!co_await st.on_jobs(std::move(insert)))
            co_return problem{errc::too_busy, std::to_string(st.config.max_queued) +
                                                  " exports are already waiting; try again when some have finished"};
        log_event("info", "job_created", {{"job", prepared->info.id}});
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
    // From memory when this process knows the answer; other instances' jobs from the table, at most a
    // checkpoint behind.
    std::optional<job_info> info = self.known_job(*normalized);
    if (!info && !self.state.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    if (!info) {
        auto get = [id = *normalized, tables = self.state.tables()](job_repository& r) { return r.get(id, tables); };
        auto job = co_await self.state.on_jobs(std::move(get));
        if (job) {
            info = std::move(job->info);
            self.state.remember_if_ended(*info);
            self.apply_live(*info);
        }
    }
    if (!info || (owner && info->owner != owner))
        co_return problem{errc::not_found, "no export job " + *normalized};
    co_return *info;
}

asio::awaitable<std::vector<job_info>> export_engine::async_list(owner_filter owner, int limit) {
    auto& self = *impl_;
    self.throw_unless_started();
    auto list = [owner, limit, tables = self.state.tables()](job_repository& r) { return r.list(owner, tables, limit); };
    auto jobs = co_await self.state.on_jobs(std::move(list));
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
    // Running here: stop it now. Running elsewhere: its instance notices at its next renewal (within about
    // a second). Either way the partial files go, whichever lease wrote them.
    if (auto it = st.running.find(job_id); it != st.running.end()) {
        it->second->cancel_requested = true;
        it->second->interrupt();
    }
    auto clean = [&st, job_id] { st.remove_part_files(job_id); };
    co_await detail::async_offload(st.file_pool, std::move(clean));
    log_event("info", "job_cancel_requested", {{"job", job_id}});
    // From the database: the job's coroutine may not have noticed yet, but the record is final.
    auto get = [job_id, tables = st.tables()](job_repository& r) { return r.get(job_id, tables); };
    auto cancelled = co_await st.on_jobs(std::move(get));
    if (!cancelled)
        co_return problem{errc::not_found, "no export job " + job_id};
    st.remember_if_ended(cancelled->info);
    co_return cancelled->info;
}

asio::awaitable<bool> export_engine::async_ping() {
    co_return co_await impl_->state.on_jobs([](job_repository& r) { return r.ping(); });
}

asio::awaitable<std::map<job_status, std::int64_t>> export_engine::async_count_jobs() {
    impl_->throw_unless_started();
    auto count = [tables = impl_->state.tables()](job_repository& r) { return r.count_by_status(tables); };
    co_return co_await impl_->state.on_jobs(std::move(count));
}

asio::awaitable<result<records_page>>
export_engine::async_list_records(export_request request, std::optional<std::int64_t> after, int limit) {
    auto& self = *impl_;
    if (!self.state.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    auto schema = self.schema_for(request);
    if (!schema)
        co_return schema.error();
    if (auto p = detail::check_columns(**schema, request))
        co_return *p;
    using rows_or_problem = result<std::vector<std::pair<std::int64_t, std::string>>>;
    auto query = [&self, &schema = **schema, request = std::move(request), after,
                  limit](table_catalog& c) mutable -> rows_or_problem {
        if (auto p = self.canonicalize(c, schema, request))
            return *p;
        return c.records(detail::records_page_sql(schema, request, after, limit));
    };
    rows_or_problem rows = problem{errc::unavailable, ""};
    try {
        rows = co_await self.state.on_catalog(std::move(query));
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
    co_await impl_->scheduler.async_stop();
}

} // namespace pgexport::engine
