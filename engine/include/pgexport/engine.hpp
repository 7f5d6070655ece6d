#pragma once
// The export engine: runs export jobs on an Asio executor, one chunked COPY at a time per job, with a
// checkpoint after each chunk, and takes unfinished jobs up again at start-up.
//
// Threading: every member function must be called from the engine's executor (a strand or a
// single-threaded io_context). File writes, fsyncs and job-store queries run on threads the engine owns,
// so the executor never blocks on disk or on the job store.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>
#include <pgexport/job_watch.hpp>
#include <pgexport/protection.hpp>
#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine {

// --storage s3://BUCKET/PREFIX: finished exports go to S3-compatible object storage, uploaded by multipart
// upload when the export's last chunk is written, resumable part by part after a crash.
struct s3_storage_config {
    std::string bucket{};
    std::string prefix{};   // no leading or trailing '/'; a job's object is PREFIX/<job id>
    std::string endpoint{}; // scheme://host[:port] of an S3-compatible server, addressed path-style
                            // (ENDPOINT/BUCKET/KEY); empty: AWS (https://BUCKET.s3.REGION.amazonaws.com)
    std::string region = "us-east-1";
    std::string access_key{};
    std::string secret_key{};
    std::string session_token{}; // temporary credentials' token (AWS_SESSION_TOKEN); empty: none
    std::uint64_t part_size = std::uint64_t{16} << 20; // at least 5 MiB (S3's minimum but for the last part)
};

// Notifications: a request's "notify" announces the job's end with a POST signed as Standard Webhooks say,
// delivered at least once from an outbox in the database by any instance (see docs/api.md).
struct notify_config {
    // The HMAC key: the bytes of the whsec_ secret (24 to 64). Empty: requests with "notify" are refused
    // (invalid_request) and this instance delivers nothing.
    std::string key{};
    // Hosts a notification may go to although they resolve to loopback, private, link-local or other
    // non-public addresses (compared without case; an IP literal as written in the URL).
    std::vector<std::string> allowed_hosts{};
    std::chrono::milliseconds retry_for{std::chrono::hours(24)}; // tries stop this long after the event
    std::chrono::milliseconds timeout{std::chrono::seconds(10)}; // one try, all in
    std::chrono::milliseconds first_retry_delay{std::chrono::seconds(1)}; // doubling from here, jittered,
    std::chrono::milliseconds max_retry_delay{std::chrono::hours(1)};      // up to this
};

struct engine_config {
    std::string database_url;                       // libpq connection string or URL
    std::filesystem::path data_dir = "var/exports"; // <job>.csv.part while running, <job>.csv when done
    std::string table = "records";                  // any table or view; may be schema-qualified
    std::string key = "id";                         // unique, increasing integer column
    // More tables this instance serves, each with its key; a request names one with "table" (the default
    // is `table` above). An instance claims, lists and serves only the jobs of its tables.
    std::vector<std::pair<std::string, std::string>> more_tables{};
    int max_concurrent = 2;                         // jobs running at once in this instance
    // The most slices (each a database connection) one job runs at once: a request's "parallelism" is
    // lowered to it when the job is created. An instance holds at most max_concurrent * max_parallelism
    // export connections.
    int max_parallelism = 4;
    // Fewer slices for a small selection: a job gets no more slices than leave each about this many rows by
    // the planner's estimate (one slice below twice it), since a slice costs a connection, a part file and
    // a join however few rows it holds. 0 or 1: always as many as asked (up to max_parallelism).
    std::int64_t min_slice_rows = 10000;
    std::size_t max_queued = 10000;                 // queued jobs at most, all instances; more: too_busy
    int max_jobs_per_key = 20; // queued plus running jobs per quota key (async_create); more: too_many_jobs;
                               // 0: no limit. Exact across instances.
    // The bytes of stored requests (their JSON) per quota key, jobs in every state until the sweeper removes
    // their records: jobs of huge "in" lists that end at once must not pile up. Past it async_create
    // answers too_many_jobs; 0: no limit. Exact across instances, as max_jobs_per_key.
    std::uint64_t max_request_bytes_per_key = std::uint64_t{16} << 20;
    // GET /api/records (async_list_records): listings run on connections of their own, at most
    // records_connections at once, each statement under records_timeout; records_queue more may wait, and
    // one more is answered unavailable (busy). Creating an export never waits behind them.
    int records_connections = 2;
    std::size_t records_queue = 16;
    std::chrono::milliseconds records_timeout{std::chrono::seconds(5)};
    // While the data directory's file system has less free space than this, async_create answers
    // insufficient_storage and running jobs wait before their next chunk (they neither fail nor use up
    // their attempts); 0: no guard.
    std::uint64_t min_free_disk = std::uint64_t{1} << 30;
    int chunk_rows = 10000;                         // rows per COPY statement
    // A Parquet row group ends once its encoded (compressed) pages reach this many bytes, if its request's
    // rowGroupRows did not end it first: what bounds a Parquet job's memory, whatever the rows' width (about
    // this plus a page and a dictionary a column). Instances sharing a database should share it: a job
    // resumed under another value is as whole and valid, but its later row groups end elsewhere, so its
    // file is not byte-identical to an uninterrupted one.
    std::size_t parquet_row_group_bytes = std::size_t{32} << 20;
    std::size_t write_buffer_bytes = 1 << 20;       // per job; two such buffers at most
    std::chrono::milliseconds statement_timeout{std::chrono::minutes(5)};
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    bool apply_migrations = false; // async_start applies the job-table migrations first
    // Several instances may share the database and the data directory. Each claims jobs under a lease
    // that it renews while it runs them; a job whose lease runs out is taken over by another instance.
    std::string instance_id{};                               // the lease owner's name; empty: host:pid
    std::chrono::milliseconds lease{std::chrono::seconds(15)}; // how long a claim lasts unrenewed
    std::chrono::milliseconds poll_interval{std::chrono::seconds(1)}; // idle instances look for work
    // random_page_cost for the chunk statements, when lower than the server's: PostgreSQL's default (4)
    // judges a (filter column, key) index by its first column's correlation and walks the key's index
    // instead, filtering many rows per chunk; nullopt keeps the server's setting. See docs/scaling.md.
    std::optional<double> random_page_cost = 1.1;
    // Between jobs the rows' sessions are kept open (at most max_concurrent * max_parallelism, the export
    // connections the jobs may hold anyway), each at most this long idle, for the next stream to reuse: a
    // new backend first pays for mapping the database's shared memory (docs/performance.md). Zero: every
    // stream connects anew and closes its session at its end.
    std::chrono::milliseconds warm_session_idle{std::chrono::seconds(30)};
    int max_attempts = 8; // transient failures in a row (no checkpoint between) before the job fails;
                          // the database being away is not one: the job waits for it, however long
    std::chrono::milliseconds retry_base_delay{500};
    std::chrono::milliseconds retry_max_delay{std::chrono::seconds(30)};
    // A completed job's file is deleted this long after it finished, and the job becomes expired; failed
    // and cancelled records are removed after the same time, expired ones after another retention.
    // Instances sharing a database should share it: each sweeps by its own.
    std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
    // The sweeper (expiry, old records, orphan files) runs at start and then every sweep_interval; zero: a
    // quarter of the retention, at most a minute, with jitter.
    std::chrono::milliseconds sweep_interval{0};
    // Database protection. max_rate: bytes a second per job, counted on the file written (the database's
    // socket is not read while the job is over it); nullopt: no limit. gentle: nullopt, off.
    std::optional<std::uint64_t> max_rate{};
    std::optional<gentle_config> gentle{};
    // --replica: the rows (every COPY) are read from this streaming standby of database_url; jobs,
    // checkpoints, leases and the catalog stay on database_url. A job reads nothing from it until it has
    // replayed past the primary's WAL position taken with the job's fixed end; while it is behind or
    // unreachable the job waits. async_start refuses a server that is not in recovery. nullopt: the rows
    // come from database_url.
    std::optional<std::string> replica_url{};
    // Where finished exports go: nullopt, the data directory (which holds the partial files either way).
    std::optional<s3_storage_config> s3{};
    // A snapshot job ("consistency": "snapshot") whose snapshot has been held this long on this instance
    // fails with code snapshot_too_old: a held snapshot holds back vacuum on the whole cluster (on the
    // standby's primary too with hot_standby_feedback). Zero: no limit.
    std::chrono::milliseconds max_snapshot_age{std::chrono::hours(6)};
    notify_config notify{};
};

// What this process has done since it started, for metrics. Read on the engine's executor.
struct engine_stats {
    static constexpr std::array<double, 8> chunk_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
    std::int64_t rows_exported = 0;
    std::int64_t bytes_written = 0;
    std::int64_t chunks = 0;
    double chunk_seconds_sum = 0;
    std::array<std::int64_t, chunk_buckets.size()> chunk_seconds_le{}; // chunks at or under each bucket
    std::int64_t retries = 0;
    std::int64_t sweeps = 0;          // sweeper passes that ran to their end
    std::int64_t jobs_expired = 0;    // completed jobs this process set expired
    std::int64_t records_removed = 0; // ended jobs' records this process removed
    std::int64_t files_removed = 0;   // files the sweeper removed: expired jobs' and orphans
    double throttled_seconds_max_rate = 0; // jobs held back by --max-rate, summed over jobs
    double throttled_seconds_gentle = 0;   // jobs paused by --gentle, summed over jobs
    double replica_wait_seconds = 0;       // jobs waiting for --replica (behind or unreachable), summed
    // Snapshot jobs whose snapshot was lost: the checks of the rows written under it, their time, and what
    // they decided (went on under the new snapshot, or started over).
    std::int64_t snapshot_checks = 0;
    double snapshot_check_seconds = 0;
    std::int64_t snapshot_resumes = 0;
    std::int64_t snapshot_restarts = 0;
};

// The snapshots this process holds for its snapshot jobs, now.
struct held_snapshots {
    std::size_t count = 0;
    double oldest_age_seconds = 0; // 0 when none is held
};

// What one pass of the sweeper did.
struct sweep_report {
    std::int64_t jobs_expired = 0;    // completed jobs past the retention, now expired (their files deleted)
    std::int64_t records_removed = 0; // failed, cancelled and expired records removed
    std::int64_t files_removed = 0;   // files of expired jobs, and orphans: files of jobs gone or ended
};

// What a delete did: a queued or running job is cancelled, an ended one deleted.
enum class delete_action { cancelled, deleted };

struct delete_result {
    delete_action action = delete_action::deleted;
    job_info job; // cancelled: the job now; deleted: the job as it was
};

// One page of the table as the listing API shows it: each row a JSON object (PostgreSQL's row_to_json).
struct records_page {
    std::vector<std::string> rows_json;
    std::optional<std::int64_t>
        next_after; // the key to pass as `after` for the next page; nullopt at the end
};

// A completed job's export, ready to be sent: an open file of the data directory, or (object storage) a
// presigned URL to send the client to.
struct export_download {
    int fd = -1;            // read-only, the caller's to close; -1 when `redirect` is set
    std::uint64_t size = 0; // the file's length
    std::optional<std::string> redirect{};
};

// Who may see a job: nullopt sees every job, a value only the jobs created with that owner.
using owner_filter = std::optional<std::string>;
// A list of jobs, shared by the callers that asked for it together.
using job_list = std::shared_ptr<const std::vector<job_info>>;

class export_engine {
public:
    // Creates the engine; nothing is connected until async_start.
    export_engine(boost::asio::any_io_executor executor, engine_config config);
    ~export_engine();
    export_engine(const export_engine&) = delete;
    export_engine& operator=(const export_engine&) = delete;

    // Creates the data directory, applies migrations when configured, reads the table's schema from the
    // catalog and takes every unfinished job up again (queued ones in creation order). Throws
    // unavailable_error when the database cannot be reached (call again later), std::runtime_error with a
    // clear message when the data directory is not writable or the table is unusable (missing, key not an
    // integer column).
    boost::asio::awaitable<void> async_start();

    // True once async_start has succeeded.
    bool started() const;

    // Validates `request` against the table (columns exist, every value parses as its column's type) and
    // queues a job. `owner` sees the job (async_status...); `quota_key` names whose quota it counts against
    // (max_jobs_per_key; nullopt: none). Returns the job id, or a problem: invalid_request,
    // unknown_column, unknown_operator, invalid_value (all the client's to fix), too_many_jobs (the quota,
    // or the queue is full), insufficient_storage (min_free_disk) or unavailable.
    boost::asio::awaitable<result<std::string>> async_create(export_request request,
                                                             std::optional<std::string> owner = {},
                                                             std::optional<std::string> quota_key = {});

    // The job with live progress. invalid_request for a malformed id (not a UUID); not_found for an
    // unknown id or another owner's job; unavailable while the database cannot be reached (and this
    // instance does not know the job's state from memory). Like every request below, the database being
    // away is a problem (errc::unavailable), never an exception.
    boost::asio::awaitable<result<job_info>> async_status(std::string id, owner_filter owner = {});

    // Jobs newest first, at most `limit`, with live progress. Callers asking the same at the same time
    // share one query and one list (the same object); each list was read after its caller asked.
    // unavailable while the database cannot be reached.
    boost::asio::awaitable<result<job_list>> async_list(owner_filter owner = {}, int limit = 100);

    // Cancels a queued or running job: status cancelled, its file removed. conflict when it has already
    // ended; not_found and unavailable as async_status.
    boost::asio::awaitable<result<job_info>> async_cancel(std::string id, owner_filter owner = {});

    // Ends a job whichever state it is in: a queued or running one is cancelled (as async_cancel); an
    // ended one (completed, failed, cancelled, expired) has its file and its record deleted, after which
    // it is unknown. not_found and unavailable as async_status.
    boost::asio::awaitable<result<delete_result>> async_delete(std::string id, owner_filter owner = {});

    // One pass of the sweeper now (it also runs by itself, see engine_config::sweep_interval): completed
    // jobs past the retention expire and their files go, old ended records are removed, and files of the
    // data directory whose job is gone or has ended without a file are removed. unavailable when the
    // database cannot be reached (nothing is removed on a guess); unavailable too before async_start.
    boost::asio::awaitable<result<sweep_report>> async_sweep();

    // True when the database answers, on a connection of its own: a busy job store or catalog does not
    // delay the answer.
    boost::asio::awaitable<bool> async_ping();

    // Jobs owned by `from` become `to`'s (an embedding program that renamed its owners, such as the HTTP
    // layer's key owners of an earlier version); how many. Idempotent. unavailable as async_status.
    boost::asio::awaitable<result<int>> async_rename_owner(std::string from, std::string to);

    // How many jobs the store holds in each status; unavailable while the database cannot be reached.
    boost::asio::awaitable<result<std::map<job_status, std::int64_t>>> async_count_jobs();

    // A page of the table under the same filters and columns as an export, keyset-paginated: rows with
    // key > after (all when nullopt), in key order, at most `limit`. Problems as async_create.
    boost::asio::awaitable<result<records_page>>
    async_list_records(export_request request, std::optional<std::int64_t> after, int limit);

    const engine_stats& stats() const;
    // Jobs running in this process.
    std::size_t running_count() const;
    // The snapshots held for snapshot jobs in this process, and the oldest one's age.
    held_snapshots snapshots_held() const;

    // Stops every running job at once, leaving each resumable from its last checkpoint, and waits until
    // they have stopped. No job starts afterwards.
    boost::asio::awaitable<void> async_shutdown();

    // The first table's schema; schemas(): every table's, the first first (empty until started).
    const table_schema& schema() const;
    const std::vector<table_schema>& schemas() const;
    // The schema of a served table, by its configured name or as the catalog prints it; nullptr when
    // this instance serves no such table (or has not started).
    const table_schema* find_schema(const std::string& name) const;

    // Follows job `id` (see job_watch.hpp): woken at each checkpoint and change of state while this
    // instance runs the job, and when the engine shuts down. Any id is accepted; one that names no job
    // is never woken.
    job_watch watch(const std::string& id);
    const engine_config& config() const;

    // The finished export of the completed `job` (as async_status returned it), to send: its file opened
    // (never through a symbolic link), or, in object storage, a presigned URL valid for `ttl`. Problems:
    // conflict (the job is not completed), other_storage (its files are in a storage this instance does
    // not use: another data directory or bucket), file_missing (its file is gone).
    boost::asio::awaitable<result<export_download>> async_open_download(const job_info& job,
                                                                        std::chrono::seconds ttl);
    // How a notification shows its job ("data"): the status JSON as the embedding program's API serves it.
    // Called on the executor; without one, {"jobId", "status"}. Set it before async_start.
    void set_notification_data(std::function<std::string(const job_info&)> format);

    // Why the object storage cannot be used right now (unreachable, the bucket refused), for /healthz;
    // nullopt when it answers, or when files are stored in the data directory.
    boost::asio::awaitable<std::optional<std::string>> async_storage_problem();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace pgexport::engine
