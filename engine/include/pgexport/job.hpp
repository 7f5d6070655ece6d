#pragma once
// A job as the engine reports it.

#include <pgexport/request.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace pgexport::engine {

// expired: completed once, its file deleted when the retention ran out (engine_config::retention).
enum class job_status { queued, running, completed, failed, cancelled, expired };

std::string_view to_string(job_status status);
std::optional<job_status> parse_job_status(std::string_view text);

using timestamp = std::chrono::system_clock::time_point;

// Time a job was held back on purpose, in seconds: by --max-rate, and by --gentle's pauses.
struct throttle_seconds {
    double max_rate = 0;
    double gentle = 0;
    double replica = 0; // waiting for --replica: behind the job's WAL position, or unreachable
};

// A job's notification ("notify"), as its latest event's delivery stands.
struct notify_state {
    std::string url;
    bool delivered = false; // the receiver answered 2xx
    int attempts = 0;       // tries made so far
    std::optional<std::string> last_error; // the last try's failure; nullopt before any, or once delivered
};

struct job_info {
    std::string id; // a UUID, lower case
    job_status status = job_status::queued;
    export_request request;
    std::optional<std::string> owner;
    std::optional<std::int64_t> last_processed_id; // nullopt before the first chunk
    std::int64_t rows_exported = 0;
    std::int64_t bytes_written = 0;
    std::optional<std::int64_t> total_rows_estimate;
    std::optional<std::string> file_path; // set once completed
    std::optional<std::string> error;     // set once failed
    std::optional<std::string> error_code; // a failure's code, where it has one (snapshot_too_old)
    int attempts = 0;                    // failed attempts so far
    std::optional<std::string> instance; // the instance running it, while it runs
    // Where its files are: the identity of a data directory or of an S3 bucket and prefix. Instances of
    // that storage alone run the job and serve its file. nullopt for jobs of older versions.
    std::optional<std::string> storage;
    std::optional<std::string> waiting;  // why a running job does not move on (the disk is short of space,
                                         // a throttle); known to the instance that runs it
    timestamp created_at;
    std::optional<timestamp> started_at;
    std::optional<timestamp> finished_at;
    // When the job ended: finished_at + the retention. For a completed job the moment its file is deleted
    // (it becomes expired); for a failed or cancelled one the moment its record is removed; for an expired
    // one the moment it expired (its record goes one retention later). nullopt while queued or running.
    std::optional<timestamp> expires_at;
    // Time the job was held back on purpose (--max-rate, --gentle); known to the instance running it only
    // (nullopt elsewhere and once it ended).
    std::optional<throttle_seconds> throttled;
    // A snapshot job (request.consistency): the snapshot its file is of, as pg_export_snapshot() named it
    // (importable with SET TRANSACTION SNAPSHOT while the job holds it) and when it was taken, by the
    // database's clock; nullopt before the job first started, and for a chunked job. snapshot_restarts: how
    // often it started over under a new snapshot because the rows written could not be proven the same.
    std::optional<std::string> snapshot_id;
    std::optional<timestamp> snapshot_at;
    int snapshot_restarts = 0;
    // Why it holds its current snapshot and not the one before (lost): whether it went on or started over,
    // and why; nullopt for its first snapshot.
    std::optional<std::string> snapshot_reason;
    // The request's "notify", with its delivery; nullopt when the request asked for none.
    std::optional<notify_state> notify;
};

// ISO 8601 in UTC with milliseconds, e.g. "2024-01-31T12:00:00.123Z".
std::string format_timestamp(timestamp t);

} // namespace pgexport::engine
