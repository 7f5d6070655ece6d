#include "store/job_repository.hpp"

#include "store/job_rows.hpp"
#include "store/row_group_records.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

// The class of the advisory locks that serialize quota checks (the two-key form: it cannot meet the
// one-key locks that migrations take); the second key is the quota key's hash. Keys that share a hash
// only wait for each other.
constexpr const char* quota_lock_class = "728340";

} // namespace

std::string outbox_insert_cte(std::string_view changed) {
    std::string sql = " notified AS (INSERT INTO export_webhooks (job_id, event, url, job)"
                      " SELECT c.id, c.status, c.request->'notify'->>'url', to_jsonb(c) FROM ";
    sql += changed;
    sql += " c WHERE c.request->'notify'->'events' ? c.status ON CONFLICT (job_id, event) DO NOTHING)";
    return sql;
}

insert_outcome job_repository::insert(const stored_job& job, std::size_t max_queued, const insert_quota& quota) {
    const job_info& info = job.info;
    const auto created_us =
        std::chrono::duration_cast<std::chrono::microseconds>(info.created_at.time_since_epoch()).count();
    const bool count_jobs = job.quota_key && quota.max_jobs > 0;
    const bool count_bytes = job.quota_key && quota.max_request_bytes > 0;
    const std::string request = json::serialize(to_json(info.request));
    // Repeatable: a second run after a lost reply finds the row there and adds nothing; the answer is
    // the same. The notification wakes idle instances at once (at the commit, under a quota).
    const std::string sql =
        "WITH quota AS (SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS n,"
        " coalesce(sum(coalesce(request_bytes, octet_length(request::text))), 0) AS bytes"
        " FROM export_jobs WHERE quota_key = $10 AND ($14::bigint > 0 OR status IN ('queued', 'running'))),"
        " ins AS (INSERT INTO export_jobs (id, status, request, owner, key_upper_bound, total_rows_estimate,"
        " created_at, table_name, key_column, quota_key, wal_lsn, slices, request_bytes, storage, key_lower_bound)"
        " SELECT $1, 'queued', $2, $3, $4, $5, to_timestamp($6::double precision / 1000000), $7, $8, $10,"
        " $12::pg_lsn, $13::jsonb, $15::bigint, $16, $17::bigint"
        " WHERE (SELECT count(*) FROM export_jobs WHERE status = 'queued') < $9::bigint"
        " AND ($11::bigint = 0 OR (SELECT n FROM quota) < $11::bigint)"
        " AND ($14::bigint = 0 OR (SELECT bytes FROM quota) + $15::bigint <= $14::bigint)"
        " ON CONFLICT (id) DO NOTHING RETURNING id)"
        " SELECT EXISTS (SELECT FROM ins) OR EXISTS (SELECT FROM export_jobs WHERE id = $1),"
        " (SELECT n FROM quota), (SELECT bytes FROM quota), pg_notify('pgexport_jobs', $1::text)";
    const sql_params params{info.id, request, info.owner, opt_int(job.key_upper_bound),
                            opt_int(info.total_rows_estimate), std::to_string(created_us), job.table, job.key,
                            std::to_string(max_queued), job.quota_key, std::to_string(count_jobs ? quota.max_jobs : 0),
                            job.wal_lsn,
                            job.slices.empty() ? std::nullopt : std::optional<std::string>(slices_to_json(job.slices)),
                            std::to_string(count_bytes ? quota.max_request_bytes : 0),
                            std::to_string(request.size()), job.storage, opt_int(info.from_key)};
    // The lock is taken by a statement of its own: a statement's snapshot is taken when it starts, so the
    // count in the next one sees every job that the previous holder of the lock committed.
    auto locked = [&] {
        session_.run_once(std::string("SELECT pg_advisory_xact_lock(") + quota_lock_class + ", hashtext($1))",
                          {*job.quota_key});
        return session_.run_once(sql, params);
    };
    const bool counted = count_jobs || count_bytes;
    result_ptr r = counted ? session_.transaction(locked) : session_.run(sql, params);
    if (get_text(r.get(), 0, 0) == std::optional<std::string>("t"))
        return {insert_outcome::inserted};
    if (count_jobs && get_int64(r.get(), 0, 1).value_or(0) >= quota.max_jobs)
        return {insert_outcome::quota_full};
    const std::int64_t stored = get_int64(r.get(), 0, 2).value_or(0);
    if (count_bytes && static_cast<std::uint64_t>(stored) + request.size() > quota.max_request_bytes)
        return {insert_outcome::request_bytes_full, stored, static_cast<std::int64_t>(request.size())};
    return {insert_outcome::queue_full};
}

std::optional<stored_job> job_repository::get(const std::string& id, const std::vector<std::string>& tables) {
    result_ptr r = session_.run(std::string("SELECT ") + job_columns +
                                    " FROM export_jobs WHERE id = $1 AND table_name = ANY($2::text[])",
                                {id, text_array(tables)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return read_job(r.get(), 0, parsed_);
}

std::vector<stored_job> job_repository::list(const owner_filter& owner, const std::vector<std::string>& tables,
                                             int limit) {
    result_ptr r = session_.run(std::string("SELECT ") + job_columns +
                                    " FROM export_jobs WHERE ($1::text IS NULL OR owner = $1)"
                                    " AND table_name = ANY($3::text[]) ORDER BY created_at DESC, id LIMIT $2",
                                {owner, std::to_string(limit), text_array(tables)});
    return read_jobs(r.get(), parsed_);
}

std::optional<stored_job> job_repository::claim(const std::string& owner, const std::vector<std::string>& tables,
                                               const std::string& storage, const std::vector<std::string>& running) {
    // SKIP LOCKED: instances claiming at the same moment take different jobs instead of queueing on one.
    // A repeat after a lost reply may claim a second job: the first one's lease then runs out unrenewed
    // and the job is claimed again, so nothing is lost, only a lease's length of time. Never a job this
    // instance still runs (`running`): its lease may have run out while it could not renew it, and the
    // old run must end before a new one starts. Only jobs of this instance's storage: another's files
    // are not here.
    result_ptr r = session_.run(
        std::string("WITH next AS (SELECT id AS next_id FROM export_jobs"
                    " WHERE status IN ('queued', 'running') AND table_name = ANY($2::text[])"
                    " AND (status = 'queued' OR lease_expires_at IS NULL OR lease_expires_at < now())"
                    " AND storage IS NOT DISTINCT FROM $4 AND NOT (id = ANY($5::uuid[]))"
                    " ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                    " UPDATE export_jobs SET status = 'running', lease_owner = $1, lease_token = lease_token + 1,"
                    " lease_expires_at = now() + $3::bigint * interval '1 millisecond',"
                    " started_at = coalesce(started_at, now()), updated_at = now()"
                    " FROM next WHERE id = next.next_id RETURNING ") +
            job_columns + ", pg_notify('pgexport_job_state', id::text)",
        {owner, text_array(tables), std::to_string(lease_.count()), storage, text_array(running)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return read_job(r.get(), 0, parsed_);
}

std::string job_repository::fenced_sql(std::string_view set, std::string_view status_after, std::string_view also) {
    // $1 id, $2 owner, $3 token, $4 the lease in ms; then the statement's own. The second branch makes a
    // repeat of a write that was made (its reply lost) answer `held` too. A write that ends the job
    // writes its notification in the same statement (it changes nothing on a repeat).
    const bool ends = status_after != "running";
    return
        "WITH upd AS (UPDATE export_jobs SET " + std::string(set) +
        ", lease_expires_at = now() + $4::bigint * interval '1 millisecond', updated_at = now()"
        " WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND lease_token = $3::bigint RETURNING " +
        // A change of state is told to every instance's followers (job_state_channel), and announced when
        // the request asks for it (the outbox).
        (ends ? "export_jobs.*, pg_notify('pgexport_job_state', $1::text))," + outbox_insert_cte("upd") + "," +
                    drop_row_groups("upd")
              : std::string("1)")) +
        std::string(also) +
        ", cur AS (SELECT status, lease_owner, lease_token FROM export_jobs WHERE id = $1)"
        " SELECT CASE WHEN EXISTS (SELECT FROM upd) THEN 'held'"
        " WHEN cur.status = '" +
        std::string(status_after) +
        "' AND cur.lease_owner = $2 AND cur.lease_token = $3::bigint THEN 'held'"
        " WHEN cur.status = 'cancelled' THEN 'cancelled' ELSE 'lost' END FROM cur";
}

lease_state job_repository::lease_answer(const PGresult* r) {
    if (PQntuples(r) == 0)
        return lease_state::lost; // the job is gone
    const auto answer = get_text(r, 0, 0);
    if (answer == std::optional<std::string>("held"))
        return lease_state::held;
    if (answer == std::optional<std::string>("cancelled"))
        return lease_state::cancelled;
    return lease_state::lost;
}

lease_state job_repository::fenced(std::string_view set, std::string_view status_after, sql_params params,
                                   std::string_view also) {
    result_ptr r = session_.run(fenced_sql(set, status_after, also), params);
    return lease_answer(r.get());
}

lease_state job_repository::renew(const std::string& id, const std::string& owner, std::int64_t token) {
    return fenced("status = status", "running", {id, owner, std::to_string(token), std::to_string(lease_.count())});
}

lease_state job_repository::checkpoint(const std::string& id, const std::string& owner, std::int64_t token,
                                       std::optional<std::int64_t> last_id, std::int64_t rows, std::int64_t bytes,
                                       int attempts, const row_group_batch& groups) {
    sql_params params{id, owner, std::to_string(token), std::to_string(lease_.count()), opt_int(last_id),
                      std::to_string(rows), std::to_string(bytes), std::to_string(attempts)};
    const std::string also = record_row_groups({groups}, params);
    return fenced("last_processed_id = $5, rows_exported = $6, bytes_written = $7, attempts = $8,"
                  " part_token = $3::bigint",
                  "running", std::move(params), also);
}

lease_state job_repository::record_upload(const std::string& id, const std::string& owner, std::int64_t token,
                                          const std::string& upload_json) {
    return fenced("upload = $5::jsonb", "running",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), upload_json});
}

std::optional<std::string> job_repository::upload_of(const std::string& id) {
    result_ptr r = session_.run("SELECT upload::text FROM export_jobs WHERE id = $1", {id});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return get_text(r.get(), 0, 0);
}

lease_state job_repository::checkpoint_slices(const std::string& id, const std::string& owner, std::int64_t token,
                                              const std::vector<slice_state>& slices, int attempts,
                                              const std::vector<row_group_batch>& groups) {
    const slice_totals totals = totals_of(slices);
    sql_params params{id, owner, std::to_string(token), std::to_string(lease_.count()), slices_to_json(slices),
                      opt_int(watermark(slices)), std::to_string(totals.rows), std::to_string(totals.bytes),
                      std::to_string(attempts)};
    const std::string also = record_row_groups(groups, params);
    return fenced("slices = $5::jsonb, last_processed_id = $6, rows_exported = $7, bytes_written = $8,"
                  " attempts = $9, part_token = $3::bigint",
                  "running", std::move(params), also);
}

std::map<int, std::vector<std::string>> job_repository::row_groups_of(const std::string& id) {
    result_ptr r = session_.run("SELECT file, ordinal, info::text FROM export_row_groups WHERE job_id = $1::uuid"
                                " ORDER BY file, ordinal",
                                {id});
    std::map<int, std::vector<std::string>> files;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        auto& groups = files[static_cast<int>(*get_int64(r.get(), i, 0))];
        if (get_int64(r.get(), i, 1) == static_cast<std::int64_t>(groups.size()))
            groups.push_back(*get_text(r.get(), i, 2));
    }
    return files;
}

lease_state job_repository::record_publishing(const std::string& id, const std::string& owner, std::int64_t token,
                                              const publish_record& publishing, std::int64_t rows, int attempts) {
    return fenced("publishing = $5::jsonb, rows_exported = $6, bytes_written = $7, attempts = $8", "running",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), to_json(publishing),
                   std::to_string(rows), std::to_string(publishing.bytes), std::to_string(attempts)});
}

lease_state job_repository::complete(const std::string& id, const std::string& owner, std::int64_t token,
                                     const std::string& file_path, std::int64_t rows, std::int64_t bytes,
                                     int attempts) {
    return fenced("status = 'completed', file_path = $5, rows_exported = $6, bytes_written = $7, attempts = $8,"
                  " finished_at = now()",
                  "completed",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), file_path,
                   std::to_string(rows), std::to_string(bytes), std::to_string(attempts)});
}

lease_state job_repository::fail(const std::string& id, const std::string& owner, std::int64_t token,
                                 const std::string& error, int attempts, const std::optional<std::string>& code) {
    return fenced("status = 'failed', error = $5, attempts = $6, error_code = $7, finished_at = now()", "failed",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), error,
                   std::to_string(attempts), code});
}

std::vector<job_repository::lease_holder> job_repository::leases_held_on(const std::string& host,
                                                                        const std::vector<std::string>& tables) {
    result_ptr r = session_.run("SELECT id::text, lease_owner, lease_token FROM export_jobs WHERE status = 'running'"
                                " AND starts_with(lease_owner, $1 || ':') AND lease_expires_at > now()"
                                " AND table_name = ANY($2::text[])",
                                {host, text_array(tables)});
    std::vector<lease_holder> held;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        held.push_back({*get_text(r.get(), i, 0), *get_text(r.get(), i, 1), *get_int64(r.get(), i, 2)});
    return held;
}

void job_repository::expire(const std::string& id, const std::string& owner, std::int64_t token) {
    session_.run("UPDATE export_jobs SET lease_expires_at = now(), updated_at = now()"
                 " WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND lease_token = $3::bigint",
                 {id, owner, std::to_string(token)});
}

std::optional<job_status> job_repository::cancel(const std::string& id, const std::vector<std::string>& tables) {
    // The row lock makes the read of the old status and the change one step. Not repeated after a lost
    // connection: a second run would find the job cancelled by the first and call it a conflict.
    result_ptr r = session_.run_once(
        "WITH old AS (SELECT id, status FROM export_jobs WHERE id = $1 AND table_name = ANY($2::text[])"
        " FOR UPDATE),"
        " upd AS (UPDATE export_jobs j SET status = CASE WHEN old.status IN ('queued', 'running')"
        " THEN 'cancelled' ELSE old.status END,"
        " finished_at = CASE WHEN old.status IN ('queued', 'running') THEN now() ELSE j.finished_at END,"
        " updated_at = now() FROM old WHERE j.id = old.id"
        " RETURNING j.*, old.status AS status_before, pg_notify('pgexport_job_state', j.id::text)),"
        " cancelled AS (SELECT * FROM upd WHERE status_before IN ('queued', 'running')),"
        + drop_row_groups("cancelled") + "," + outbox_insert_cte("cancelled") + " SELECT status_before FROM upd",
        {id, text_array(tables)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return parse_job_status(*get_text(r.get(), 0, 0));
}

std::optional<job_status> job_repository::cancel_or_delete(const std::string& id,
                                                           const std::vector<std::string>& tables) {
    // One statement under the row lock: the job cannot end between the choice and the change. Only one of
    // the two writes finds its row. Not repeated after a lost connection, like cancel: a second run would
    // find the job gone and call it unknown.
    result_ptr r = session_.run_once(
        "WITH old AS (SELECT id, status FROM export_jobs WHERE id = $1 AND table_name = ANY($2::text[])"
        " FOR UPDATE),"
        " cancelled AS (UPDATE export_jobs j SET status = 'cancelled', finished_at = now(), updated_at = now()"
        " FROM old WHERE j.id = old.id AND old.status IN ('queued', 'running')"
        " RETURNING j.*, old.status AS status_before, pg_notify('pgexport_job_state', j.id::text)),"
        " deleted AS (DELETE FROM export_jobs j USING old WHERE j.id = old.id"
        " AND old.status NOT IN ('queued', 'running') RETURNING old.status),"
        + drop_row_groups("cancelled") + "," + outbox_insert_cte("cancelled") +
        " SELECT status_before FROM cancelled UNION ALL SELECT status FROM deleted",
        {id, text_array(tables)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return parse_job_status(*get_text(r.get(), 0, 0));
}

std::string job_repository::current_wal_lsn() {
    result_ptr r = session_.run("SELECT pg_current_wal_insert_lsn()::text");
    return *get_text(r.get(), 0, 0);
}

std::vector<webhook_row> job_repository::claim_webhooks(const std::string& owner, std::chrono::milliseconds claim,
                                                        int limit) {
    // The job's record as the event left it goes through the same reader as a live one: the snapshot
    // becomes a row of export_jobs again (jsonb_populate_record), named so that job_columns reads it.
    result_ptr r = session_.run(
        std::string("WITH due AS (SELECT id FROM export_webhooks WHERE delivered_at IS NULL AND stopped_at IS NULL"
                    " AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())"
                    " ORDER BY next_attempt_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED),"
                    " claimed AS (UPDATE export_webhooks w SET claimed_by = $1, claim_token = claim_token + 1,"
                    " claimed_until = now() + $2::bigint * interval '1 millisecond'"
                    " FROM due WHERE w.id = due.id RETURNING w.*)"
                    " SELECT c.id::text, c.job_id::text, c.event, c.url, c.claim_token, c.attempts,"
                    " (extract(epoch FROM c.created_at) * 1000000)::bigint, c.payload, s.* FROM claimed c"
                    " LEFT JOIN LATERAL (SELECT ") +
            job_columns +
            " FROM jsonb_populate_record(NULL::export_jobs, c.job) AS export_jobs WHERE c.payload IS NULL) s"
            " ON true ORDER BY c.next_attempt_at, c.id",
        {owner, std::to_string(claim.count()), std::to_string(limit)});
    std::vector<webhook_row> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        webhook_row w;
        w.id = *get_text(r.get(), i, 0);
        w.job_id = *get_text(r.get(), i, 1);
        w.event = *get_text(r.get(), i, 2);
        w.url = *get_text(r.get(), i, 3);
        w.claim_token = *get_int64(r.get(), i, 4);
        w.attempts = static_cast<int>(*get_int64(r.get(), i, 5));
        w.created_at = *micros(r.get(), i, 6);
        w.payload = get_text(r.get(), i, 7);
        if (!w.payload) {
            // From the columns after the row's own, as job_columns gives them.
            job_info info = read_job_at(r.get(), i, 8, parsed_).info;
            w.job = std::move(info);
        }
        rows.push_back(std::move(w));
    }
    return rows;
}

std::optional<std::string> job_repository::fix_webhook_payload(const std::string& id, std::int64_t token,
                                                                const std::string& payload) {
    result_ptr r = session_.run("UPDATE export_webhooks SET payload = coalesce(payload, $3)"
                                " WHERE id = $1 AND claim_token = $2::bigint RETURNING payload",
                                {id, std::to_string(token), payload});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return get_text(r.get(), 0, 0);
}

bool job_repository::record_webhook_try(const std::string& id, std::int64_t token, const webhook_try_record& outcome) {
    // Safe to repeat: a repeat finds the claim ended (claimed_until NULL) and changes nothing, and the try
    // counts once.
    result_ptr r = session_.run(
        "WITH upd AS (UPDATE export_webhooks SET attempts = attempts + 1, last_error = $3,"
        " delivered_at = CASE WHEN $4::boolean THEN now() END, stopped_at = CASE WHEN $5::boolean THEN now() END,"
        " next_attempt_at = now() + $6::bigint * interval '1 millisecond', claimed_by = NULL, claimed_until = NULL"
        " WHERE id = $1 AND claim_token = $2::bigint AND claimed_until IS NOT NULL RETURNING 1)"
        " SELECT EXISTS (SELECT FROM upd) OR EXISTS (SELECT FROM export_webhooks WHERE id = $1"
        " AND claim_token = $2::bigint AND claimed_until IS NULL)",
        {id, std::to_string(token), outcome.error, outcome.delivered ? "true" : "false",
         outcome.stopped ? "true" : "false", std::to_string(outcome.delay.count())});
    return get_text(r.get(), 0, 0) == std::optional<std::string>("t");
}

void job_repository::release_webhook(const std::string& id, std::int64_t token) {
    session_.run("UPDATE export_webhooks SET claimed_by = NULL, claimed_until = NULL"
                 " WHERE id = $1 AND claim_token = $2::bigint",
                 {id, std::to_string(token)});
}

std::int64_t job_repository::remove_old_webhooks(std::chrono::milliseconds age, int limit) {
    result_ptr r = session_.run(
        "DELETE FROM export_webhooks WHERE id IN (SELECT id FROM export_webhooks"
        " WHERE (delivered_at IS NOT NULL OR stopped_at IS NOT NULL)"
        " AND coalesce(delivered_at, stopped_at) < now() - $1::bigint * interval '1 millisecond'"
        " LIMIT $2::int FOR UPDATE SKIP LOCKED)",
        {std::to_string(age.count()), std::to_string(limit)});
    return std::atoll(PQcmdTuples(r.get()));
}

} // namespace pgexport::engine::detail
