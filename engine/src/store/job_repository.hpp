#pragma once
// Every statement on export_jobs, the job queue that all instances share, and on export_webhooks, the
// outbox of the jobs' notifications (written with the job's final state, in the same statement). Each is safe to repeat after a
// lost connection (cancel, the one that is not, runs once). A running job's writes are fenced by its
// lease: they name the lease's owner and token and change nothing once another instance has claimed the
// job. Blocking libpq on a connection of its own: called only from the engine's queue thread.

#include "policy/job_policy.hpp"
#include "policy/publish_plan.hpp"
#include "policy/slice_plan.hpp"
#include "snapshot/snapshot_resume.hpp"
#include "store/pg.hpp"
#include <pgexport/shared/fifo_cache.hpp>

#include <pgexport/engine.hpp>
#include <pgexport/job.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct stored_job {
    job_info info;
    std::optional<std::int64_t> key_upper_bound;
    std::string table; // as the catalog prints it
    std::string key;
    std::int64_t lease_token = 0;          // the claim this copy was read under
    std::optional<std::int64_t> part_token; // the lease whose partial file holds the checkpoint
    std::optional<std::string> quota_key;   // whose quota the job counts against (written, never read back)
    // The primary's WAL position (pg_lsn text) taken with key_upper_bound: a --replica standby must have
    // replayed past it before a chunk is read there. nullopt for jobs created before it was recorded.
    std::optional<std::string> wal_lsn;
    // A parallel job's slices as its last checkpoint left them (fixed at creation); empty: one stream.
    std::vector<slice_state> slices;
    // Set once a lease started publishing: that lease's file (or upload) is the export.
    std::optional<publish_record> publishing;
    // The storage the job's files are written to (storage_identity); nullopt for jobs of old versions.
    std::optional<std::string> storage;
    // A snapshot job's snapshot, as recorded with the checkpoint it vouches for (info.snapshot_at and
    // snapshot_id are read from it); nullopt before the job first started, and for a chunked job.
    std::optional<recorded_snapshot> snapshot;
};

struct insert_outcome {
    enum kind_t {
        inserted,           // queued (or had been, by an earlier run of the same insert)
        queue_full,         // max_queued jobs wait already, all callers together
        quota_full,         // the job's quota key has max_jobs jobs queued or running already
        request_bytes_full, // the key's stored requests and this one would pass max_request_bytes
    };
    kind_t kind = inserted;
    std::int64_t stored_bytes = 0;  // request_bytes_full: the key's stored requests
    std::int64_t request_bytes = 0; // request_bytes_full: this one's

    bool operator==(kind_t k) const { return kind == k; }
};

// Parquet: row groups that a checkpoint vouches for the first time, of one file (0: a single stream's; k:
// a parallel job's slice k), from its row group `first` on, each as its metadata's JSON text
// (format/parquet/metadata.hpp). Recorded in export_row_groups by the checkpoint's own statement.
struct row_group_batch {
    int file = 0;
    std::int64_t first = 0;
    std::vector<std::string> groups;
};

// What one quota key may hold (0: no limit).
struct insert_quota {
    int max_jobs = 0;                    // queued plus running
    std::uint64_t max_request_bytes = 0; // stored requests' JSON, jobs in every state
};

// Every change of a job's state (claimed, completed, failed, cancelled, expired) sends NOTIFY on this
// channel with the job's id, from any instance: followers of the job elsewhere learn it at once.
inline constexpr const char* job_state_channel = "pgexport_job_state";

// Every notification added to the outbox (export_webhooks) sends NOTIFY on this channel (a trigger, once per
// transaction): the webhook services of every instance look for due rows at once.
inline constexpr const char* webhook_channel = "pgexport_webhooks";

// The outbox rows (schema/012_delivery.sql) of the jobs that the CTE `changed` holds (export_jobs rows as
// a statement just changed them, all columns: their new status is the event) and whose request asks for
// that event: a CTE named `notified` to add to that statement, so that the event and its notification are
// one transaction. Safe to repeat: an event is notified once.
std::string outbox_insert_cte(std::string_view changed);

// A notification claimed for one try (export_webhooks).
struct webhook_row {
    std::string id;     // the row's uuid: the webhook-id is msg_<id>
    std::string job_id;
    std::string event;  // the job's final state it announces
    std::string url;
    std::int64_t claim_token = 0; // this claim's: the try's record names it
    int attempts = 0;             // tries made before this one
    timestamp created_at;         // the event's time
    std::optional<std::string> payload; // the body, once the first try fixed it
    std::optional<job_info> job;        // the job as the event left it: read while the payload is not fixed
};

// What a try came to, for its record.
struct webhook_try_record {
    bool delivered = false;
    bool stopped = false;                  // no more tries
    std::chrono::milliseconds delay{0};    // neither: until the next try
    std::optional<std::string> error;      // the try's failure
};

class job_repository {
public:
    job_repository(std::string url, std::chrono::milliseconds statement_timeout,
                   std::chrono::milliseconds connect_timeout, std::chrono::milliseconds lease)
        : session_(std::move(url), statement_timeout, connect_timeout), lease_(lease) {}

    // Queues a job unless `max_queued` jobs wait already, or its quota key has `quota.max_jobs` jobs queued
    // or running, or its stored requests and this one's would pass `quota.max_request_bytes`. The quota is
    // exact across instances: its check and the insert run under a transaction-scoped advisory lock on the
    // key.
    insert_outcome insert(const stored_job& job, std::size_t max_queued, const insert_quota& quota);

    // Opens the connection now rather than at the first statement: at start-up, while descriptors and
    // connection slots are to spare, so that reads keep working when they run short later.
    void open() { session_.run("SELECT 1"); }

    std::optional<stored_job> get(const std::string& id, const std::vector<std::string>& tables);
    std::vector<stored_job> list(const owner_filter& owner, const std::vector<std::string>& tables, int limit);

    // Jobs written before jobs named their table: they are `table`'s (one table per server then).
    int adopt_unnamed(const std::string& table, const std::string& key);
    // Jobs owned by `from` become `to`'s; returns how many.
    int rename_owner(const std::string& from, const std::string& to);

    // The oldest job of `tables` and of `storage` that is queued, or running under a lease that has
    // expired, but none of `running` (jobs this instance still runs), claimed for `owner` under a new
    // lease (its token one higher); nullopt when there is none.
    std::optional<stored_job> claim(const std::string& owner, const std::vector<std::string>& tables,
                                    const std::string& storage, const std::vector<std::string>& running);
    // Jobs of `tables` whose storage was not recorded (created by an older version) become `storage`'s.
    int adopt_storage(const std::string& storage, const std::vector<std::string>& tables);
    // Unfinished or completed jobs of `tables` whose files are in another storage than `storage`: how many,
    // by storage.
    std::map<std::string, std::int64_t> other_storages(const std::string& storage,
                                                       const std::vector<std::string>& tables);

    // Running jobs whose lease is held by another process of this host: (job, owner, token).
    struct lease_holder {
        std::string job, owner;
        std::int64_t token;
    };
    std::vector<lease_holder> leases_held_on(const std::string& host, const std::vector<std::string>& tables);
    // Ends a lease now (the job stays running, claimable at once), if it is still that one: at shutdown,
    // so that another instance takes the job over without waiting for the lease to run out.
    void expire(const std::string& id, const std::string& owner, std::int64_t token);

    // The lease again for its full length.
    lease_state renew(const std::string& id, const std::string& owner, std::int64_t token);
    // The checkpoint (and the lease renewed): the partial file of this lease holds `bytes` bytes; with
    // `groups`, the Parquet row groups among them not recorded before.
    lease_state checkpoint(const std::string& id, const std::string& owner, std::int64_t token,
                           std::optional<std::int64_t> last_id, std::int64_t rows, std::int64_t bytes,
                           int attempts, const row_group_batch& groups = {});
    // --storage s3://: the multipart upload as it stands (JSON, multipart_state), under the lease.
    lease_state record_upload(const std::string& id, const std::string& owner, std::int64_t token,
                              const std::string& upload_json);
    // The upload the job's checkpoint recorded, or nullopt.
    std::optional<std::string> upload_of(const std::string& id);
    // A parallel job's checkpoint: every slice's state (each vouched for by its own fdatasync'd part file,
    // all in lease `token`'s files), with the job's rows, bytes and lastProcessedId made of them; with
    // `groups`, the Parquet row groups of any slices that their states vouch for (job_slices::unrecorded).
    lease_state checkpoint_slices(const std::string& id, const std::string& owner, std::int64_t token,
                                  const std::vector<slice_state>& slices, int attempts,
                                  const std::vector<row_group_batch>& groups = {});
    // The Parquet row groups recorded for the job: each file's (0, or a slice's), as metadata JSON texts
    // from its first row group on, as far as they go without a gap. Some at the end may lie past the
    // checkpoint (see export_row_groups).
    std::map<int, std::vector<std::string>> row_groups_of(const std::string& id);
    // Step 2 of publishing (policy/publish_plan.hpp): this lease's file, `publishing.bytes` long, is the
    // export; the job's rows and bytes with it.
    lease_state record_publishing(const std::string& id, const std::string& owner, std::int64_t token,
                                  const publish_record& publishing, std::int64_t rows, int attempts);
    // The job completed (its Parquet row groups' records go: the footer is written).
    lease_state complete(const std::string& id, const std::string& owner, std::int64_t token,
                         const std::string& file_path, std::int64_t rows, std::int64_t bytes, int attempts);
    // `code`: the failure's code, where it has one (snapshot_too_old).
    lease_state fail(const std::string& id, const std::string& owner, std::int64_t token, const std::string& error,
                     int attempts, const std::optional<std::string>& code = std::nullopt);
    // A snapshot job's snapshot, with the checkpoint the file is of under it, in one write under the lease:
    // `progress` (one stream: the job's last key, rows and bytes) or, for a parallel job, `slices`; the job's
    // end (`key_upper_bound`) and its snapshot restarts so far. Committed with synchronous_commit on, so
    // that no commit the snapshot sees can be lost in a crash, nor a transaction id below its xmax be
    // handed out again (docs/consistency.md); chunks are read under the snapshot only after it returns held.
    lease_state record_snapshot(const std::string& id, const std::string& owner, std::int64_t token,
                                const recorded_snapshot& snapshot, int restarts,
                                std::optional<std::int64_t> key_upper_bound, const slice_state& progress,
                                const std::vector<slice_state>& slices, int attempts);

    // queued/running -> cancelled; the job's state before, or nullopt when unknown.
    std::optional<job_status> cancel(const std::string& id, const std::vector<std::string>& tables);
    // A queued or running job cancelled (as cancel), an ended one's record deleted; the job's state before,
    // or nullopt when unknown. Runs once, as cancel.
    std::optional<job_status> cancel_or_delete(const std::string& id, const std::vector<std::string>& tables);

    // The sweeper's statements. Each takes at most `limit` rows, skipping rows another instance has
    // locked (it is sweeping them), and is safe to repeat: a second run finds nothing more to do.
    // Completed jobs of `tables` that finished more than `retention` ago become expired: their ids.
    std::vector<std::string> expire_completed(std::chrono::milliseconds retention,
                                              const std::vector<std::string>& tables, int limit);
    // Records of `tables` removed: failed and cancelled jobs that ended more than `retention` ago, expired
    // ones more than twice that (one retention as completed, one as expired). Their ids.
    std::vector<std::string> remove_ended(std::chrono::milliseconds retention,
                                          const std::vector<std::string>& tables, int limit);
    // The status of each of `ids` that has a record, whatever its table (instances that serve other
    // tables may share the data directory). Ids without a record are absent from the answer.
    std::map<std::string, job_status> statuses(const std::vector<std::string>& ids);

    std::map<job_status, std::int64_t> count_by_status(const std::vector<std::string>& tables);

    // The outbox. Notifications due (their next try's time has come, none delivered or stopped, none
    // claimed by a live claim), oldest due first, at most `limit`, claimed for `owner` for `claim` (a claim
    // outlives a try's time limit; an instance that dies mid-try leaves the row to the next claim once it
    // runs out). SKIP LOCKED: instances claiming at once take different rows.
    std::vector<webhook_row> claim_webhooks(const std::string& owner, std::chrono::milliseconds claim, int limit);
    // Fixes the body of notification `id` under claim `token` unless an earlier try fixed one; returns the
    // body every try sends, or nullopt when the claim was lost.
    std::optional<std::string> fix_webhook_payload(const std::string& id, std::int64_t token,
                                                   const std::string& payload);
    // Records a try under claim `token` and ends the claim; false when the claim was lost (another
    // instance claims the row after its claim ran out: its record is the one that counts).
    bool record_webhook_try(const std::string& id, std::int64_t token, const webhook_try_record& outcome);
    // Gives claim `token` of notification `id` back without counting a try (a try cut short at a stop):
    // the row is due again at once, for whichever instance claims it.
    void release_webhook(const std::string& id, std::int64_t token);
    // Notifications delivered or stopped more than `age` ago removed, at most `limit`; how many.
    std::int64_t remove_old_webhooks(std::chrono::milliseconds age, int limit);

    // The primary's WAL position now (pg_lsn text), for a job that recorded none.
    std::string current_wal_lsn();

private:
    // An UPDATE of the job's record under the lease (`set`), answering whether the lease held; `also`:
    // further statements of the same one (", name AS (...)"), which act only when the update did (`upd`).
    lease_state fenced(std::string_view set, std::string_view status_after, sql_params params,
                       std::string_view also = {});
    static std::string fenced_sql(std::string_view set, std::string_view status_after, std::string_view also = {});
    static lease_state lease_answer(const PGresult* r);

    blocking_session session_;
    std::chrono::milliseconds lease_;
    // Large requests, parsed once: a list that holds a job of 100,000 filter values would parse its
    // 800 KB again at every round. By the stored text's bytes.
    fifo_cache<export_request> parsed_{std::size_t{8} << 20, 4096};
};

} // namespace pgexport::engine::detail
