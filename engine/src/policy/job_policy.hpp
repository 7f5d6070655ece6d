#pragma once
// The decisions a job makes, as pure functions: how to take up a job from what its checkpoint and the
// disk say, what kind of failure an error is, whether and when to try again, and what its lease is now.
// No I/O: the engine gathers the facts and acts on the answer; tests/unit/engine/job_policy.cpp runs
// every case.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// ---- Taking up a job ----------------------------------------------------------------------------------

// What the job's record vouches for: the bytes of the file up to its last checkpoint.
struct checkpoint_facts {
    std::int64_t bytes = 0; // 0: no checkpoint yet
};

// What is on disk for the job. A length of -1 means the file is absent.
struct disk_facts {
    std::int64_t part_bytes = -1;  // <job>.csv.part
    std::int64_t final_bytes = -1; // <job>.csv
};

enum class resume_action {
    start,   // nothing to keep: write the file from its first byte
    resume,  // truncate the partial file to the checkpoint and go on after its key
    restart, // the checkpoint cannot be trusted (its bytes are gone): start over, forgetting it
    finish,  // the file was finished and renamed; only the completion was not recorded
};

struct resume_plan {
    resume_action action;
    std::string reason; // why, for restart
};

resume_plan plan_resume(const checkpoint_facts& checkpoint, const disk_facts& disk);

// ---- Failures -------------------------------------------------------------------------------------------

enum class failure_class {
    unavailable, // the database or the network is away: wait, however long, and go on
    transient,   // may pass (a conflict, a lack of resources): try again a bounded number of times
    no_space,    // the disk is full (ENOSPC, EDQUOT): wait for space, however long, like the free-space guard
    permanent,   // will not pass by trying again (bad SQL, a full or read-only disk): fail the job
};

// A PostgreSQL error by its SQLSTATE; an empty SQLSTATE means no server answered (the connection
// failed or was lost).
failure_class classify_sqlstate(std::string_view sqlstate);

// A file-system error by its errno value.
failure_class classify_errno(int error);

std::string_view to_string(failure_class c);

// ---- Trying again ---------------------------------------------------------------------------------------

struct retry_policy {
    std::chrono::milliseconds base_delay{500};
    std::chrono::milliseconds max_delay{std::chrono::seconds(30)};
    int max_transient_attempts = 8; // consecutive transient failures without progress before giving up
};

struct retry_decision {
    bool give_up = false;
    std::chrono::milliseconds delay{0}; // before the next attempt, when not giving up
};

// After a failure: `consecutive` is how many attempts in a row have now failed without a checkpoint
// between them (1 for the first). Availability and full-disk failures never give up; the delay doubles from
// base_delay up to max_delay. `jitter` in [0, 1) takes up to a quarter off the delay, so that instances
// woken by one outage do not all return at the same instant.
retry_decision decide_retry(const retry_policy& policy, failure_class failure, int consecutive, double jitter = 0);

// ---- The lease ----------------------------------------------------------------------------------------

// What a fenced write (a claim's renewal, a checkpoint, the completion) found.
enum class lease_state {
    held,      // the write was made (or had been, by the same lease)
    cancelled, // the job was cancelled: stop, the job is over
    lost,      // another instance claimed the job (or it ended otherwise): stop and touch nothing
};

// The lease as its holder can know it. held: the job store confirmed it recently enough that it cannot
// have run out. unsure: no answer has confirmed it for the lease's length (the job store is away from
// here): another instance may hold the job now; the fenced writes stay safe, but the holder cannot tell
// until an answer comes. cancelled and lost are final.
enum class lease_verdict { held, unsure, cancelled, lost };

std::string_view to_string(lease_verdict v);

// The holder's record of its lease, fed with the answers to the writes that renew it. A write sent at T
// that answers `held` proves the lease until T + length at least (the database counted from a moment
// after T); the time of sending, not of the answer, is what counts, so a slow answer never extends it.
class lease_tracker {
public:
    using clock = std::chrono::steady_clock;

    // `claimed_at`: when the claim that granted the lease was sent.
    lease_tracker(std::chrono::milliseconds length, clock::time_point claimed_at)
        : length_(length), confirmed_until_(claimed_at + length) {}

    // A renewal at least once a second, a third of the lease when that is shorter (not under 20 ms): a
    // cancel sent to any instance, or a takeover, is noticed that soon, and two renewals can be lost
    // before the lease runs out.
    std::chrono::milliseconds renewal_interval() const;

    // The answer to a write sent at `sent_at`. Returns the verdict it leaves.
    lease_verdict answered(lease_state found, clock::time_point sent_at);

    lease_verdict at(clock::time_point now) const;
    clock::time_point confirmed_until() const { return confirmed_until_; }

private:
    std::chrono::milliseconds length_;
    clock::time_point confirmed_until_;
    lease_verdict ended_ = lease_verdict::held; // cancelled or lost once an answer said so
};

} // namespace pgexport::engine::detail
