#include "store/job_repository.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

constexpr const char* job_columns = "id::text, status, request::text, owner, key_upper_bound, "
                                    "last_processed_id, rows_exported, bytes_written,"
                                    " total_rows_estimate, file_path, error, attempts,"
                                    " (extract(epoch FROM created_at) * 1000000)::bigint,"
                                    " (extract(epoch FROM started_at) * 1000000)::bigint,"
                                    " (extract(epoch FROM finished_at) * 1000000)::bigint,"
                                    " table_name, key_column, lease_token, part_token,"
                                    " CASE WHEN status = 'running' THEN lease_owner END, wal_lsn::text, slices::text,"
                                    " publishing::text, storage, snapshot::text, snapshot_restarts, error_code";

std::optional<timestamp> micros(const PGresult* r, int row, int column) {
    auto v = get_int64(r, row, column);
    if (!v)
        return std::nullopt;
    return timestamp(std::chrono::duration_cast<timestamp::duration>(std::chrono::microseconds(*v)));
}

// A stored request, parsed; a large one once (`parsed`), as a request never changes.
export_request read_request(const std::string& id, std::string_view text, fifo_cache<export_request>& parsed) {
    // The text's length is part of the name, in case an id ever came back with another request.
    std::string name = id;
    name += '/';
    name += std::to_string(text.size());
    if (auto known = parsed.find(name))
        return *known;
    // Accepted under the limits of its day: read back whatever they are now.
    constexpr request_limits unlimited{SIZE_MAX, SIZE_MAX, SIZE_MAX};
    auto request = parse_export_request(json::parse(text), unlimited);
    if (!request)
        throw std::runtime_error("job " + id + " has an unreadable request: " + request.error().message);
    parsed.insert(name, std::make_shared<const export_request>(*request), text.size());
    return std::move(*request);
}

stored_job read_job(const PGresult* r, int row, fifo_cache<export_request>& parsed) {
    stored_job j;
    job_info& info = j.info;
    info.id = *get_text(r, row, 0);
    info.status = parse_job_status(*get_text(r, row, 1)).value_or(job_status::failed);
    info.request = read_request(info.id, *get_text(r, row, 2), parsed);
    info.owner = get_text(r, row, 3);
    j.key_upper_bound = get_int64(r, row, 4);
    info.last_processed_id = get_int64(r, row, 5);
    info.rows_exported = get_int64(r, row, 6).value_or(0);
    info.bytes_written = get_int64(r, row, 7).value_or(0);
    info.total_rows_estimate = get_int64(r, row, 8);
    info.file_path = get_text(r, row, 9);
    info.error = get_text(r, row, 10);
    info.attempts = static_cast<int>(get_int64(r, row, 11).value_or(0));
    info.created_at = micros(r, row, 12).value_or(timestamp{});
    info.started_at = micros(r, row, 13);
    info.finished_at = micros(r, row, 14);
    j.table = get_text(r, row, 15).value_or("");
    j.key = get_text(r, row, 16).value_or("");
    j.lease_token = get_int64(r, row, 17).value_or(0);
    j.part_token = get_int64(r, row, 18);
    info.instance = get_text(r, row, 19);
    j.wal_lsn = get_text(r, row, 20);
    if (auto text = get_text(r, row, 21)) {
        auto slices = slices_from_json(*text);
        if (!slices)
            throw std::runtime_error("job " + info.id + " has unreadable slices");
        j.slices = std::move(*slices);
    }
    if (auto text = get_text(r, row, 22)) {
        j.publishing = publish_record_from_json(*text);
        if (!j.publishing)
            throw std::runtime_error("job " + info.id + " has an unreadable publishing record");
    }
    j.storage = get_text(r, row, 23);
    info.storage = j.storage;
    if (auto text = get_text(r, row, 24)) {
        j.snapshot = snapshot_from_json(*text);
        if (!j.snapshot)
            throw std::runtime_error("job " + info.id + " has an unreadable snapshot record");
        info.snapshot_id = j.snapshot->id;
        info.snapshot_reason = j.snapshot->reason;
        info.snapshot_at = timestamp(std::chrono::duration_cast<timestamp::duration>(
            std::chrono::microseconds(j.snapshot->taken_at_us)));
    }
    info.snapshot_restarts = static_cast<int>(get_int64(r, row, 25).value_or(0));
    info.error_code = get_text(r, row, 26);
    return j;
}

std::vector<stored_job> read_jobs(const PGresult* r, fifo_cache<export_request>& parsed) {
    std::vector<stored_job> jobs;
    for (int i = 0; i < PQntuples(r); ++i)
        jobs.push_back(read_job(r, i, parsed));
    return jobs;
}

} // namespace

namespace {

// The class of the advisory locks that serialize quota checks (the two-key form: it cannot meet the
// one-key locks that migrations take); the second key is the quota key's hash. Keys that share a hash
// only wait for each other.
constexpr const char* quota_lock_class = "728340";

} // namespace

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
        " created_at, table_name, key_column, quota_key, wal_lsn, slices, request_bytes, storage)"
        " SELECT $1, 'queued', $2, $3, $4, $5, to_timestamp($6::double precision / 1000000), $7, $8, $10,"
        " $12::pg_lsn, $13::jsonb, $15::bigint, $16"
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
                            std::to_string(request.size()), job.storage};
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

std::string job_repository::fenced_sql(std::string_view set, std::string_view status_after) {
    // $1 id, $2 owner, $3 token, $4 the lease in ms; then the statement's own. The second branch makes a
    // repeat of a write that was made (its reply lost) answer `held` too.
    return "WITH upd AS (UPDATE export_jobs SET " + std::string(set) +
           ", lease_expires_at = now() + $4::bigint * interval '1 millisecond', updated_at = now()"
           " WHERE id = $1 AND status = 'running' AND lease_owner = $2 AND lease_token = $3::bigint RETURNING 1" +
           // A change of state is told to every instance's followers (job_state_channel).
           std::string(status_after == "running" ? "" : ", pg_notify('pgexport_job_state', $1::text)") + "),"
           " cur AS (SELECT status, lease_owner, lease_token FROM export_jobs WHERE id = $1)"
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

lease_state job_repository::fenced(std::string_view set, std::string_view status_after, sql_params params) {
    result_ptr r = session_.run(fenced_sql(set, status_after), params);
    return lease_answer(r.get());
}

lease_state job_repository::renew(const std::string& id, const std::string& owner, std::int64_t token) {
    return fenced("status = status", "running", {id, owner, std::to_string(token), std::to_string(lease_.count())});
}

lease_state job_repository::checkpoint(const std::string& id, const std::string& owner, std::int64_t token,
                                       std::optional<std::int64_t> last_id, std::int64_t rows, std::int64_t bytes,
                                       int attempts) {
    return fenced("last_processed_id = $5, rows_exported = $6, bytes_written = $7, attempts = $8,"
                  " part_token = $3::bigint",
                  "running",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), opt_int(last_id),
                   std::to_string(rows), std::to_string(bytes), std::to_string(attempts)});
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
                                              const std::vector<slice_state>& slices, int attempts) {
    const slice_totals totals = totals_of(slices);
    return fenced("slices = $5::jsonb, last_processed_id = $6, rows_exported = $7, bytes_written = $8,"
                  " attempts = $9, part_token = $3::bigint",
                  "running",
                  {id, owner, std::to_string(token), std::to_string(lease_.count()), slices_to_json(slices),
                   opt_int(watermark(slices)), std::to_string(totals.rows), std::to_string(totals.bytes),
                   std::to_string(attempts)});
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

lease_state job_repository::record_snapshot(const std::string& id, const std::string& owner, std::int64_t token,
                                            const recorded_snapshot& snapshot, int restarts,
                                            std::optional<std::int64_t> key_upper_bound, const slice_state& progress,
                                            const std::vector<slice_state>& slices, int attempts) {
    const bool parallel = !slices.empty();
    const slice_totals totals = parallel ? totals_of(slices) : slice_totals{progress.rows, progress.bytes};
    const std::optional<std::int64_t> last = parallel ? watermark(slices) : progress.last;
    const std::string sql = fenced_sql(
        "snapshot = $5::jsonb, snapshot_restarts = $6, key_upper_bound = $7, last_processed_id = $8,"
        " rows_exported = $9, bytes_written = $10, slices = coalesce($11::jsonb, slices), attempts = $12",
        "running");
    const sql_params params{id, owner, std::to_string(token), std::to_string(lease_.count()),
                            snapshot_to_json(snapshot), std::to_string(restarts), opt_int(key_upper_bound),
                            opt_int(last), std::to_string(totals.rows), std::to_string(totals.bytes),
                            parallel ? std::optional<std::string>(slices_to_json(slices)) : std::nullopt,
                            std::to_string(attempts)};
    // Safe to repeat whole: the same values again.
    auto write = [&] {
        session_.run_once("SET LOCAL synchronous_commit = on");
        return session_.run_once(sql, params);
    };
    result_ptr r = session_.transaction(write);
    return lease_answer(r.get());
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
        " FOR UPDATE)"
        " UPDATE export_jobs j SET status = CASE WHEN old.status IN ('queued', 'running')"
        " THEN 'cancelled' ELSE old.status END,"
        " finished_at = CASE WHEN old.status IN ('queued', 'running') THEN now() ELSE j.finished_at END,"
        " updated_at = now() FROM old WHERE j.id = old.id RETURNING old.status, pg_notify('pgexport_job_state', j.id::text)",
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
        " RETURNING old.status, pg_notify('pgexport_job_state', j.id::text)),"
        " deleted AS (DELETE FROM export_jobs j USING old WHERE j.id = old.id"
        " AND old.status NOT IN ('queued', 'running') RETURNING old.status)"
        " SELECT status FROM cancelled UNION ALL SELECT status FROM deleted",
        {id, text_array(tables)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return parse_job_status(*get_text(r.get(), 0, 0));
}

std::string job_repository::current_wal_lsn() {
    result_ptr r = session_.run("SELECT pg_current_wal_insert_lsn()::text");
    return *get_text(r.get(), 0, 0);
}

} // namespace pgexport::engine::detail
