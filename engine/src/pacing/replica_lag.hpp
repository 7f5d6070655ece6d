#pragma once
// --replica's decisions, as pure functions: whether a streaming standby has replayed far enough for a job
// to read from it, and the reason a job shows while it waits. No I/O: the engine asks the standby (see
// replica_gate) and acts on the answer; tests/unit/engine/replica_lag.cpp runs every case.
//
// A job records the primary's WAL position when its fixed end is taken (one statement, after that
// statement's snapshot): every row committed before the job was created is in WAL below it. A standby
// whose replay has passed it holds those rows.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// A pg_lsn's text ("16/B374D848": two hexadecimal halves) as a number; nullopt when malformed.
std::optional<std::uint64_t> parse_lsn(std::string_view text);

// What a standby says of itself: SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),
// pg_is_wal_replay_paused() (the last only when in recovery).
struct replica_facts {
    bool in_recovery = true;
    std::optional<std::uint64_t> replayed; // nullopt: it has replayed nothing (a server never a standby)
    bool replay_paused = false;
};

struct replica_verdict {
    bool ready = false;
    std::string waiting; // when not ready: the reason for status's "waiting"
};

// Ready once the standby has replayed up to `target` (the job's WAL position). Not ready: the reason says
// by how much it is behind, and whether its replay is paused or it is no standby at all.
replica_verdict judge_replica(std::uint64_t target, const replica_facts& facts);

// The reason a job waits while the standby cannot be reached: "replica unreachable: <why>".
std::string replica_unreachable_reason(std::string_view error);

} // namespace pgexport::engine::detail
