#pragma once
// What the engine's parts share: the configuration, the threads that run blocking work (the job queue's
// connection, the catalog's connection, the disk), the table, the jobs this instance runs, and the
// metrics. Touched only on the engine's executor, except where a member says otherwise.

#include "util/event.hpp"
#include "storage/export_storage.hpp"
#include "store/job_repository.hpp"
#include "policy/multipart_plan.hpp"
#include "util/offload.hpp"
#include "store/pg.hpp"
#include "runtime/progress_hub.hpp"
#include "policy/slice_plan.hpp"
#include "store/listing_pool.hpp"
#include "store/table_catalog.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/error.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <filesystem>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace pgexport::engine::detail {


struct stop_job {}; // thrown inside a job when it must stop: cancelled, lease lost, or shutting down

// A job this instance holds the lease of.
struct running_job {
    stored_job job;
    // The last checkpoint: what the database and the disk vouch for.
    std::optional<std::int64_t> last_id;
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    int attempts = 0;             // failed attempts in all, stored with each checkpoint
    int consecutive_failures = 0; // since the last checkpoint: what the retry budget counts
    // Progress beyond the checkpoint, for status.
    std::int64_t live_rows = 0;
    std::int64_t live_bytes = 0;
    std::optional<std::string> waiting; // why the job does not move on right now (disk, throttle), for status
    std::optional<std::string> replica_down; // the last attempt lost (or never reached) the --replica standby
    bool replica_unreachable_shown = false;  // `waiting` says so, until a connect reaches it again
    throttle_seconds throttled;         // time held back on purpose, every attempt on this instance
    lease_tracker lease{std::chrono::seconds(15), lease_tracker::clock::now()}; // set at the claim
    bool cancel_requested = false; // the job was cancelled: remove its files
    bool stop_requested = false;   // the engine shuts down: leave the job to be taken up again
    bool lease_lost = false;       // another instance holds the job now: touch nothing
    std::optional<multipart_state> upload; // --storage s3://: the upload as last recorded
    part_uploader* uploader = nullptr;     // --storage s3://: what sends this attempt's file while it is written
    bool upload_gone = false;              // --storage s3://: the store no longer knows the recorded upload
    async_connection* connection = nullptr;
    // A parallel job (job.slices not empty): each slice's state as the last held checkpoint recorded it,
    // and as last sent (durable on disk, maybe not recorded yet); every checkpoint records all of `sent`.
    // A slice's connection and throttle timer, while an attempt runs it, for interrupt().
    std::vector<slice_state> slices;
    std::vector<slice_state> slices_sent;
    std::vector<std::uint64_t> slices_version;      // of `slices`: the send it came from
    std::vector<std::uint64_t> slices_sent_version; // bumped at each send of the slice
    std::vector<std::int64_t> slices_live_bytes;    // each slice's file, written so far
    std::vector<async_connection*> slice_connections;
    std::vector<std::unique_ptr<boost::asio::steady_timer>> slice_pauses;
    bool slice_failed = false; // a slice of this attempt failed: the others stop
    std::unique_ptr<boost::asio::steady_timer> backoff;
    std::unique_ptr<boost::asio::steady_timer> renewal;
    std::unique_ptr<boost::asio::steady_timer> pause; // a throttle's wait (job_throttle)
    std::unique_ptr<event> done;

    bool should_stop() const { return cancel_requested || stop_requested || lease_lost; }
    bool parallel() const { return !job.slices.empty(); }
    // The slices as they stood at the claim (the stored checkpoint), for a parallel job.
    void load_slices();
    // A slice's state sent in a checkpoint that came back held, with the slices' version numbers then.
    void slices_held(const std::vector<slice_state>& sent, const std::vector<std::uint64_t>& versions);
    // Status's bytes so far: the file's, or the sum of the slices' files.
    void set_live_bytes(std::optional<std::size_t> slice, std::int64_t bytes);
    // Feeds the answer to a fenced write sent at `sent_at` to the lease; a final answer (cancelled, lost)
    // marks the job to stop. Returns whether the lease is still held.
    bool lease_answered(lease_state found, lease_tracker::clock::time_point sent_at);
    void interrupt();
    const std::string& id() const { return job.info.id; }
    std::int64_t token() const { return job.lease_token; }
};

struct engine_state {
    engine_state(boost::asio::any_io_executor ex, engine_config cfg);
    ~engine_state();

    // Runs f(repository) on the queue thread (claims, leases, checkpoints, every write), f(catalog) on the catalog thread, and resumes on the
    // engine's executor with the result. A lost or refused connection surfaces as unavailable_error.
    template <class F> auto on_jobs(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
        return async_offload(queue_pool, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(jobs); });
        });
    }
    // f(repository) on the read connection: status, lists and counts, never behind a checkpoint.
    template <class F> auto on_reads(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
        return async_offload(reads_pool, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(reads); });
        });
    }
    template <class F> auto on_catalog(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, table_catalog&>> {
        return async_offload(catalog_pool, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(catalog); });
        });
    }
    template <class F> static auto unavailable_if_transient(F&& f) {
        try {
            return f();
        } catch (const pg_error& e) {
            if (e.transient())
                throw unavailable_error(std::string("the database is unavailable: ") + e.what());
            throw;
        }
    }

    // <job>.<lease token>.csv.part while a lease writes it; <job>.csv once finished. Version 1 wrote
    // <job>.csv.part: a checkpoint without a part token points there.
    std::filesystem::path part_path(const std::string& id, std::optional<std::int64_t> token) const;
    std::filesystem::path final_path(const std::string& id) const;
    // A parallel job's slice k under a lease: <job>.<lease token>.s<k>.csv.part.
    std::filesystem::path slice_path(const std::string& id, std::int64_t token, std::size_t slice) const;
    // Removes every partial file of the job, whichever lease wrote it, but those in `keep`. Blocking.
    void remove_part_files(const std::string& id, const std::vector<std::filesystem::path>& keep = {}) const;

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
    boost::asio::thread_pool queue_pool{1};
    boost::asio::thread_pool catalog_pool{1};
    boost::asio::thread_pool file_pool{2};
    job_repository jobs;   // touched only on queue_pool
    boost::asio::thread_pool reads_pool{1};
    job_repository reads;  // the API's reads of export_jobs; touched only on reads_pool
    table_catalog catalog; // touched only on catalog_pool: creation's validation, estimate and slice plan
    listing_pool listings; // GET /api/records, on connections of its own: never in creation's way
    // /healthz's ping, on a connection and a thread of its own: behind no job-store or catalog work (a
    // 1 MB request's INSERT, a claim, a 100,000-value validation). Touched only on health_pool.
    boost::asio::thread_pool health_pool{1};
    blocking_session health;
    table_schema schema;               // the first table's
    std::vector<table_schema> schemas; // every table's, the first first
    std::vector<std::string> configured_names; // as given in the configuration, in the same order
    std::map<std::string, std::shared_ptr<running_job>> running;
    // Wakes whoever follows a job (job_watch): notify it after each checkpoint and change of state.
    std::shared_ptr<progress_hub> progress;
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
