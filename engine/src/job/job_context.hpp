#pragma once
// One running job: everything this instance holds of a job it has claimed, owned in one place. The
// scheduler builds it at the claim and registers it (running_jobs); the runner (queue/job_runner) runs it
// and ends it; the services get the parts they use:
//   fence     the lease, and the job's writes to its record under it (checkpoints, the upload, publishing,
//             the end), each refused once another instance holds the job;
//   stop      the one cancellation signal of the job's work, with its cause;
//   progress  what the last checkpoint vouches for, and the live progress beyond it (status);
//   waits     why the job does not move on right now, and the time it was held back (status);
//   slices    a parallel job's slices as checkpointed and as sent;
//   upload    object storage's multipart upload as last recorded;
//   snapshot  a snapshot job's held session and the snapshot recorded (docs/consistency.md).
// Touched only on the engine's executor.

#include "job/job_stop.hpp"
#include "policy/job_policy.hpp"
#include "policy/multipart_plan.hpp"
#include "policy/slice_plan.hpp"
#include "snapshot/snapshot_resume.hpp"
#include "store/job_store.hpp"
#include "store/pg.hpp"

#include <pgexport/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgexport::engine::detail {

// The lease, as its holder knows it, and the writes made under it.
class job_fence {
public:
    using clock = lease_tracker::clock;

    job_fence(job_store& store, std::string id, std::string owner, std::int64_t token,
              std::chrono::milliseconds length, clock::time_point claimed_at, job_stop& stop)
        : store_(store), id_(std::move(id)), owner_(std::move(owner)), token_(token),
          tracker_(length, claimed_at), stop_(stop) {}

    // What a fenced statement names: the job, and this lease of it.
    struct lease_name {
        const std::string& id;
        const std::string& owner;
        std::int64_t token;
    };

    // Runs f(repository, lease) -> lease_state on the job store's writes thread: a statement that changes
    // the record only while this lease holds the job. Its answer feeds the lease; cancelled and lost stop
    // the job (stop_cause::cancelled, lease_lost). Returns whether the lease held. Throws
    // unavailable_error while the database is away.
    template <class F> boost::asio::awaitable<bool> async_write(F f) {
        const auto sent = clock::now();
        auto write = [f = std::move(f), id = id_, owner = owner_, token = token_](job_repository& r) mutable {
            return f(r, lease_name{id, owner, token});
        };
        const lease_state found = co_await store_.on_writes(std::move(write));
        co_return answered(found, sent);
    }
    // The renewal: the same, on the job store's lease thread (never behind a checkpoint or a claim).
    boost::asio::awaitable<bool> async_renew();

    // The answer `found` to a fenced write sent at `sent`; stops the job on a final answer.
    bool answered(lease_state found, clock::time_point sent);

    const lease_tracker& tracker() const { return tracker_; }
    const std::string& owner() const { return owner_; }
    std::int64_t token() const { return token_; }

private:
    job_store& store_;
    std::string id_;
    std::string owner_;
    std::int64_t token_;
    lease_tracker tracker_;
    job_stop& stop_;
};

struct job_progress {
    // The last checkpoint: what the database and the disk vouch for.
    std::optional<std::int64_t> last_id;
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    int attempts = 0;             // failed attempts in all, stored with each checkpoint
    int consecutive_failures = 0; // since the last checkpoint: what the retry budget counts
    // Beyond the checkpoint, for status.
    std::int64_t live_rows = 0;
    std::int64_t live_bytes = 0;

    // A single-stream job exported again from its first row.
    void start_over() {
        last_id.reset();
        rows = 0;
        bytes = 0;
    }
};

struct job_waits {
    std::optional<std::string> waiting;      // why the job does not move on right now, for status
    std::optional<std::string> replica_down; // the last attempt lost (or never reached) the --replica standby
    bool replica_unreachable_shown = false;  // `waiting` says so, until a connect reaches it again
    throttle_seconds throttled;              // time held back on purpose, every attempt on this instance
};

// A parallel job's slices: each slice's state as the last held checkpoint recorded it, and as last sent
// (durable on disk, maybe not recorded yet); every checkpoint records all of `sent`.
struct job_slices {
    std::vector<slice_state> held;
    std::vector<slice_state> sent;
    std::vector<std::uint64_t> held_version; // of `held`: the send it came from
    std::vector<std::uint64_t> sent_version; // bumped at each send of the slice
    std::vector<std::int64_t> live_bytes;    // each slice's file, written so far
    // Parquet: the row groups that a slice's sends vouched for and no held checkpoint recorded yet, each
    // with the send's version. Every checkpoint records them all, as it records all of `sent`: a checkpoint
    // that records a slice's bytes always records the row groups in them, whichever slice's it is.
    std::vector<std::pair<std::uint64_t, row_group_batch>> unrecorded;

    void load(const std::vector<slice_state>& recorded);
    // The slices sent in a checkpoint that came back held, with their version numbers then.
    void on_held(const std::vector<slice_state>& slices, const std::vector<std::uint64_t>& versions);
    // Slice `slice`'s send (its version just bumped) vouches for `groups` too. Returns every unrecorded
    // batch, for the checkpoint.
    std::vector<row_group_batch> send_row_groups(std::size_t slice, row_group_batch groups);
};

struct job_upload {
    std::optional<multipart_state> state; // as last recorded
    bool gone = false;                    // the store no longer knows the recorded upload
};

// A snapshot job's snapshot on this instance: the session that holds it (a REPEATABLE READ READ ONLY
// transaction on the rows' server that exported it; its chunks import it while it lives), and the snapshot
// as the job's record holds it. The session is this job's alone: export/snapshot_session opens it, keeps
// it alive while chunks are read, and closes it when the rows are all read, when it is lost, and when the
// job ends or stops here (the runner's last step; the destructor too).
struct job_snapshot {
    std::unique_ptr<async_connection> session;
    std::optional<recorded_snapshot> recorded;
    std::chrono::steady_clock::time_point held_since{}; // when this instance took the held one
    std::chrono::milliseconds keepalive{10'000};        // a statement on the session this often

    bool held() const { return session && session->is_open(); }
    // The snapshot's id for a chunk to import; nullopt when none is held.
    std::optional<std::string> importable() const {
        if (!held() || !recorded)
            return std::nullopt;
        return recorded->id;
    }
    // Ends the held transaction and its session (nothing when none is held).
    void release() noexcept { session.reset(); }
};

class job_context : public std::enable_shared_from_this<job_context> {
public:
    job_context(stored_job claimed, job_store& store, std::string owner,
                std::chrono::milliseconds lease, job_fence::clock::time_point claimed_at);

    stored_job job; // the record as claimed, kept current by the job's own writes
    job_stop stop;
    job_fence fence;
    job_progress progress;
    job_waits waits;
    job_slices slices;
    job_upload upload;
    job_snapshot snapshot;
    bool renewal_in_flight = false;

    const std::string& id() const { return job.info.id; }
    std::int64_t token() const { return fence.token(); }
    bool parallel() const { return !job.slices.empty(); }

    // Status's bytes so far: the file's, or (a slice given) the sum of the slices' files.
    void set_live_bytes(std::optional<std::size_t> slice, std::int64_t bytes);
    // The job as status shows it while it runs here, with live progress.
    job_info live_info(const std::string& instance) const;
    // A record of this job read from the table, with the progress made here since its last checkpoint.
    void apply_live(job_info& info) const;
};

} // namespace pgexport::engine::detail
