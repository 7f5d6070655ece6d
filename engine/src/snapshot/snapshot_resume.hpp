#pragma once
// Snapshot-consistent exports ("consistency": "snapshot"), their pure decisions: the snapshot a job records,
// whether a job whose snapshot was lost may go on under a new one, how often the held session is kept
// alive, and when a held snapshot is too old. No I/O: export/snapshot_session asks the database and acts
// on the answers; tests/unit/engine/snapshot/snapshot_resume.cpp runs every case. docs/consistency.md has the
// argument that the check never accepts a changed prefix.
//
// The check. S1 is the recorded snapshot, whose rows the file holds up to the checkpoint; S2 the new one.
// For each key range already written (under the request's filters), the database counts under S2 the
// rows there (`visible`) and those of them whose xmin does not precede S1's xmin (`changed`: inserted or
// updated by a transaction that may not have been complete when S1 was taken). When no row changed and
// the count equals the rows written, S2 holds exactly S1's tuples there: every tuple of S2 whose xmin
// precedes S1.xmin was committed before S1 and not deleted as of S2, so as of S1 either; S2's tuples are
// a subset of S1's, and of the same number. The file then is S2's moment as a whole.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// A snapshot as the job records it (export_jobs.snapshot, jsonb).
struct recorded_snapshot {
    std::string id;                 // pg_export_snapshot(): importable while the session that exported it lives
    std::uint64_t xmin = 0;         // pg_current_snapshot(): full transaction ids (xid8, epoch included)
    std::uint64_t xmax = 0;
    std::vector<std::uint64_t> xip; // in progress when it was taken (top-level ids only: see docs/consistency.md)
    std::int64_t taken_at_us = 0;   // the database's clock when it was taken, µs since the Unix epoch
    // The WAL position read in the same statement, after the snapshot: the primary's insert position, a
    // standby's replay position. Every commit the snapshot sees is below it.
    std::uint64_t lsn = 0;
    std::optional<std::string> system_id; // the cluster's, when the role may read pg_control_system()
    bool standby = false;                 // taken on a server in recovery (--replica)
    // The highest key of the relation under the snapshot, nullopt when it holds no row: the end of the
    // export (never below the fixed end taken at creation).
    std::optional<std::int64_t> end;
    // Why the job took it in place of a lost one: "went on under a new snapshot, the one before lost: <the
    // decision's reason>" or "started over ..."; nullopt for a job's first snapshot.
    std::optional<std::string> reason;

    friend bool operator==(const recorded_snapshot&, const recorded_snapshot&) = default;
};

std::string snapshot_to_json(const recorded_snapshot& snapshot);
// nullopt for anything that is not such an object.
std::optional<recorded_snapshot> snapshot_from_json(std::string_view text);

// pg_snapshot's text, "xmin:xmax:xip,xip,...".
struct pg_snapshot_text {
    std::uint64_t xmin = 0;
    std::uint64_t xmax = 0;
    std::vector<std::uint64_t> xip;
};
std::optional<pg_snapshot_text> parse_pg_snapshot(std::string_view text);

// One key range the file already holds (vouched for by a checkpoint, even with no row: a done slice whose
// range was empty), as the new snapshot sees it.
struct prefix_count {
    std::string range;        // for the reason: "keys up to 5000", "slice 3 (keys 101 to 200)"
    std::int64_t written = 0; // rows the file holds for it
    std::int64_t visible = 0; // rows the new snapshot holds there, under the request's filters
    std::int64_t changed = 0; // of those, rows whose xmin does not precede the recorded snapshot's xmin
};

// What the database said under the new snapshot S2.
struct snapshot_check {
    std::optional<std::string> system_id;
    std::uint64_t lsn_before = 0; // the WAL position read before S2 was taken (as recorded_snapshot::lsn)
    std::uint64_t xmax = 0;       // S2's xmax (a full transaction id): how far the ids moved on since S1
    bool has_xmin = true;         // the relation's rows are tuples of a table (a view's have no xmin)
    std::vector<prefix_count> prefixes;
};

enum class snapshot_resume_action {
    go_on,   // the rows written are exactly the new snapshot's: continue under it
    restart, // export again from the first row under the new snapshot
};

struct snapshot_resume_decision {
    snapshot_resume_action action = snapshot_resume_action::restart;
    std::string reason; // why, for the log (and, for a restart, the job's record of it)
};

// The decision when a job's snapshot was lost and S2 taken: go on only when the check proves the written
// prefix identical under S2 (see above); otherwise restart, naming the first thing that failed:
// - no recorded snapshot although rows were written;
// - S2 taken on another cluster (system identifiers differ);
// - S2 older than S1 (its WAL position before it is below S1's after it: a standby rebuilt or behind);
// - 2^31 transaction ids or more between S1's xmin and S2's xmax (a tuple's 32-bit xmin could no longer be
//   told apart from one of another epoch);
// - a view (rows without xmin cannot be checked);
// - a range with a changed row, or with fewer or more rows than written.
// Nothing written yet (no range: `prefixes` empty) goes on without looking at the rest. A range with no
// row written is still checked: a done slice's empty range is never read again.
snapshot_resume_decision decide_snapshot_resume(const std::optional<recorded_snapshot>& recorded,
                                                const snapshot_check& check);

// How often the held session runs a statement, given the server's idle_in_transaction_session_timeout
// (zero: none): a third of it, at least 100 ms, at most 10 s, so that the timeout never ends the session
// and a lost session is noticed within seconds.
std::chrono::milliseconds snapshot_keepalive_interval(std::chrono::milliseconds idle_in_transaction_timeout);

// True when a snapshot held for `held` is past --max-snapshot-age (`max`; zero: no limit).
bool snapshot_too_old(std::chrono::steady_clock::duration held, std::chrono::milliseconds max);

} // namespace pgexport::engine::detail
