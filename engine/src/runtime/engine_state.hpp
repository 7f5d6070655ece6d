#pragma once
// What the engine's parts share, and only that: the configuration, the threads that run blocking work
// (the job store's connections, the catalog's, the disk's), the tables, the registry of the jobs this
// instance runs (each job's own state is its job_context), the followers' hub, the metrics and where
// finished exports go. Touched only on the engine's executor, except where a member says otherwise.

#include "files/export_files.hpp"
#include "runtime/progress_hub.hpp"
#include "runtime/running_jobs.hpp"
#include "store/job_store.hpp"
#include "store/listing_pool.hpp"
#include "store/pg.hpp"
#include "store/table_catalog.hpp"
#include "store/warm_sessions.hpp"
#include "util/offload.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/error.hpp>

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace pgexport::engine::detail {

class export_storage;

struct engine_state {
    engine_state(boost::asio::any_io_executor ex, engine_config cfg);
    ~engine_state();

    // f(repository) on the job store's writes thread (claims, checkpoints, every write), its reads
    // thread (status, lists, counts), and f(catalog) on the catalog's; each resumes on the engine's
    // executor with the result. A lost or refused connection surfaces as unavailable_error.
    template <class F> auto on_jobs(F f) { return store.on_writes(std::move(f)); }
    template <class F> auto on_reads(F f) { return store.on_reads(std::move(f)); }
    template <class F> auto on_catalog(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, table_catalog&>> {
        return async_offload(catalog_pool, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(catalog); });
        });
    }

    // The tables this instance serves (as the catalog prints them).
    std::vector<std::string> tables() const;
    // The schema of a table this instance serves, by the name a request or a job gives (as configured or
    // as the catalog prints it; nullopt: the first); nullptr when it serves no such table.
    const table_schema* find_schema(const std::optional<std::string>& name) const;

    // A job that ended, kept for status look-ups while the database is away, and for a second after it
    // was read (fresh_ended): polling clients then cost no query. Bounded, oldest out. An ended job
    // changes only by the sweeper or a delete (expired, removed): here they forget() it at once; done by
    // another instance, this one answers the old state for a second at most.
    void remember_if_ended(const job_info& info);
    void forget(const std::string& id);
    // The ended job as read from the job store less than a second ago, or nullptr.
    const job_info* fresh_ended(const std::string& id) const;
    static constexpr std::chrono::milliseconds ended_freshness{1000};

    boost::asio::any_io_executor executor;
    engine_config config;
    job_store store;
    boost::asio::thread_pool catalog_pool{1};
    boost::asio::thread_pool file_pool{2};
    table_catalog catalog; // touched only on catalog_pool: creation's validation, estimate and slice plan
    listing_pool listings; // GET /api/records, on connections of its own: never in creation's way
    warm_sessions rows_sessions; // the chunks' sessions between streams (store/warm_sessions.hpp)
    // /healthz's ping, on a connection and a thread of its own: behind no job-store or catalog work (a
    // 1 MB request's INSERT, a claim, a 100,000-value validation). Touched only on health_pool.
    boost::asio::thread_pool health_pool{1};
    blocking_session health;
    export_files files;                // the data directory's names and who removes what
    std::string storage_id;            // the identity of this instance's storage (set at start)
    table_schema schema;               // the first table's
    std::vector<table_schema> schemas; // every table's, the first first
    std::vector<std::string> configured_names; // as given in the configuration, in the same order
    running_jobs running;
    // Wakes whoever follows a job (job_watch): notify it after each checkpoint and change of state.
    std::shared_ptr<progress_hub> progress;
    // Wakes the webhook service (a notification was added to the outbox: webhook_channel); empty when
    // this instance sends none. The scheduler's listener calls it.
    std::function<void()> webhooks_due;
    std::map<std::string, job_info> ended;
    std::map<std::string, std::chrono::steady_clock::time_point> ended_read_at;
    std::deque<std::string> ended_order;
    static constexpr std::size_t max_remembered = 4096;
    engine_stats stats;
    std::minstd_rand random{std::random_device{}()};
    bool stopping = false;
    bool started = false;
    bool warned_hidden_sessions = false; // --gentle could not see other roles' sessions (logged once)
    // Where finished exports go (the data directory, or S3). Last: its threads stop first.
    std::unique_ptr<export_storage> storage;
};

} // namespace pgexport::engine::detail
