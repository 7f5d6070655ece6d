#include "lifecycle/instance_start.hpp"

#include "files/data_dir.hpp"
#include "files/file_writer.hpp"
#include "policy/instance_identity.hpp"
#include "protection/replica_gate.hpp"
#include "storage/export_storage.hpp"

#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

process_facts this_process() {
    process_facts self;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0)
        std::snprintf(host, sizeof host, "localhost");
    self.host = host;
    self.pid = ::getpid();
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    std::getline(boot, self.boot_id);
    struct stat ns {};
    if (::stat("/proc/self/ns/pid", &ns) == 0)
        self.pid_namespace = static_cast<std::uint64_t>(ns.st_ino);
    return self;
}

std::string nonce() {
    std::random_device random;
    char text[8];
    std::snprintf(text, sizeof text, "%06x", random() & 0xffffff);
    return text;
}

// A process of this host that died holding leases (killed, crashed) will not renew them: its jobs are
// taken over now rather than when the leases run out. Only a default name of this boot and PID namespace
// says which process it was (another container of the same host name has other pids).
asio::awaitable<void> end_leases_of_dead_processes(engine_state& st) {
    const process_facts self = this_process();
    auto held = [host = self.host, tables = st.tables()](job_repository& r) { return r.leases_held_on(host, tables); };
    const auto leases = co_await st.on_jobs(std::move(held));
    for (const auto& lease : leases) {
        const auto pid = pid_to_probe(lease.owner, self);
        if (!pid || *pid == self.pid || ::kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH)
            continue;
        auto expire = [lease](job_repository& r) { r.expire(lease.job, lease.owner, lease.token); };
        co_await st.on_jobs(std::move(expire));
        log_event("info", "lease_of_dead_process_ended", {{"job", lease.job}, {"owner", lease.owner}});
    }
}

// The storage's identity; the jobs of older versions become this storage's; jobs of other storages on
// the same database are said in the log, once: this instance neither runs them nor serves their files.
asio::awaitable<void> settle_storage(engine_state& st) {
    auto identify = [config = st.config] { return storage_identity(config); };
    st.storage_id = co_await async_offload(st.file_pool, std::move(identify));
    log_event("info", "storage_identity", {{"storage", st.storage_id}});
    auto adopt = [id = st.storage_id, tables = st.tables()](job_repository& r) { return r.adopt_storage(id, tables); };
    if (const int adopted = co_await st.on_jobs(std::move(adopt)))
        log_event("info", "jobs_adopted_by_storage", {{"count", adopted}, {"storage", st.storage_id}});
    auto others = [id = st.storage_id, tables = st.tables()](job_repository& r) { return r.other_storages(id, tables); };
    const auto elsewhere = co_await st.on_jobs(std::move(others));
    for (const auto& [storage, count] : elsewhere)
        log_event("warning", "other_storage_jobs",
                  {{"storage", storage},
                   {"jobs", count},
                   {"this_storage", st.storage_id},
                   {"why", "instances of another data directory or bucket share this database: this one "
                           "neither runs their jobs nor serves their files. If the instances were meant to "
                           "share one data directory, give them the same --data-dir (a shared file system)"}});
}

} // namespace

engine_config with_defaults(engine_config c) {
    if (c.instance_id.empty())
        c.instance_id = default_instance_id(this_process(), nonce());
    return c;
}

asio::awaitable<void> async_start_instance(engine_state& st) {
    if (prepare_data_dir(st.config.data_dir) == dir_mode_verdict::readable_by_others)
        log_event("warning", "data_dir_readable",
                  {{"dir", st.config.data_dir.string()},
                   {"why", "other users can list the names of the export files (the files are 0600);"
                           " chmod 700 the directory to hide them"}});
    std::error_code ec;
    const fs::path probe = st.config.data_dir / (".pgexport-write-test-" + std::to_string(::getpid()));
    {
        file_writer w(st.executor, st.file_pool, probe, 0, 1);
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
    co_await async_check_replica(st);
    auto adopt = [table = st.schema.table, key = st.schema.key](job_repository& r) {
        return r.adopt_unnamed(table, key);
    };
    if (const int adopted = co_await st.on_jobs(std::move(adopt)))
        log_event("info", "jobs_adopted", {{"count", adopted}, {"table", st.schema.table}});
    co_await settle_storage(st);
    co_await end_leases_of_dead_processes(st);
}

} // namespace pgexport::engine::detail
