#pragma once
// The sweeper's decisions, pure (no I/O): which names in the data directory are the engine's files, which
// of those may be removed given their job's status, how often to sweep, and when a job expires.

#include <pgexport/job.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

enum class export_file_kind {
    finished, // <job>.csv
    partial,  // <job>.<lease token>.csv.part (or <job>.csv.part, written by version 1), and a parallel
              // job's slice <job>.<lease token>.s<k>.csv.part
};

struct export_file_name {
    std::string job_id; // a lower-case UUID
    export_file_kind kind = export_file_kind::finished;
};

// The job and kind of a file the engine writes, or nullopt for any other name: the data directory may hold
// files that are not ours (a write probe, a secret, someone's notes) and the sweeper leaves them alone.
std::optional<export_file_name> parse_export_file_name(std::string_view name);

// True when a file of ours may be removed, given its job's status now (nullopt: there is no such job).
// The status must have been read after the file was seen: a job's row is inserted before any file of it is
// created, so a file whose job is missing then belongs to a job that is gone, not to one being created.
// A partial file goes once its job has ended, whichever way. A finished file goes once its job is gone or
// has ended without a file (failed, cancelled, expired); a queued or running job keeps it, because a file
// is published before its completion is recorded.
bool is_orphan(export_file_kind kind, std::optional<job_status> status);

// The period between sweeps: a quarter of the retention, at most a minute, at least 100 ms, spread by
// ±20 % with `unit_random` in [0, 1) so that instances sharing a database do not sweep in step.
std::chrono::milliseconds sweep_interval(std::chrono::milliseconds retention, double unit_random);

// finished_at + retention for a job that has ended (completed, failed, cancelled, expired); nullopt for
// a queued or running one. See job_info::expires_at.
std::optional<timestamp> expiry_of(const job_info& job, std::chrono::milliseconds retention);

} // namespace pgexport::engine::detail
