// The job store's maintenance statements: what an instance adopts and renames at start, the sweeper's
// batches, and the counts for metrics. The class is job_repository (store/job_repository.hpp); its
// statements of claims, leases and fenced writes are in job_repository.cpp.

#include "store/job_repository.hpp"

namespace pgexport::engine::detail {

namespace {

// The first column of every row, as text (ids).
std::vector<std::string> first_column(const PGresult* r) {
    std::vector<std::string> values;
    for (int i = 0; i < PQntuples(r); ++i)
        values.push_back(get_text(r, i, 0).value_or(""));
    return values;
}

} // namespace

int job_repository::adopt_unnamed(const std::string& table, const std::string& key) {
    result_ptr r = session_.run(
        "UPDATE export_jobs SET table_name = $1, key_column = $2 WHERE table_name IS NULL", {table, key});
    return std::atoi(PQcmdTuples(r.get()));
}

int job_repository::rename_owner(const std::string& from, const std::string& to) {
    result_ptr r = session_.run("UPDATE export_jobs SET owner = $2 WHERE owner = $1", {from, to});
    return std::atoi(PQcmdTuples(r.get()));
}

int job_repository::adopt_storage(const std::string& storage, const std::vector<std::string>& tables) {
    result_ptr r = session_.run("UPDATE export_jobs SET storage = $1 WHERE storage IS NULL AND table_name = ANY($2::text[])",
                                {storage, text_array(tables)});
    return std::atoi(PQcmdTuples(r.get()));
}

std::map<std::string, std::int64_t> job_repository::other_storages(const std::string& storage,
                                                                  const std::vector<std::string>& tables) {
    result_ptr r = session_.run("SELECT storage, count(*) FROM export_jobs WHERE storage <> $1"
                                " AND table_name = ANY($2::text[]) AND status IN ('queued', 'running', 'completed')"
                                " GROUP BY storage",
                                {storage, text_array(tables)});
    std::map<std::string, std::int64_t> found;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        found[*get_text(r.get(), i, 0)] = *get_int64(r.get(), i, 1);
    return found;
}

std::vector<std::string> job_repository::expire_completed(std::chrono::milliseconds retention,
                                                          const std::vector<std::string>& tables, int limit) {
    result_ptr r = session_.run(
        "WITH expired AS (UPDATE export_jobs SET status = 'expired', file_path = NULL, updated_at = now()"
        " WHERE status = 'completed' AND id IN (SELECT id FROM export_jobs WHERE status = 'completed'"
        " AND finished_at < now() - $1::bigint * interval '1 millisecond' AND table_name = ANY($2::text[])"
        " ORDER BY finished_at LIMIT $3::int FOR UPDATE SKIP LOCKED)"
        " RETURNING export_jobs.*, pg_notify('pgexport_job_state', id::text)),"
        // The expiry is announced where the request asks for it, in the same statement.
        + outbox_insert_cte("expired") + " SELECT id::text FROM expired",
        {std::to_string(retention.count()), text_array(tables), std::to_string(limit)});
    return first_column(r.get());
}

std::vector<std::string> job_repository::remove_ended(std::chrono::milliseconds retention,
                                                      const std::vector<std::string>& tables, int limit) {
    result_ptr r = session_.run(
        "DELETE FROM export_jobs WHERE id IN (SELECT id FROM export_jobs WHERE table_name = ANY($2::text[])"
        " AND ((status IN ('failed', 'cancelled') AND finished_at < now() - $1::bigint * interval '1 millisecond')"
        " OR (status = 'expired' AND finished_at < now() - 2 * $1::bigint * interval '1 millisecond'))"
        " LIMIT $3::int FOR UPDATE SKIP LOCKED)"
        " AND status IN ('failed', 'cancelled', 'expired')"
        " RETURNING id::text",
        {std::to_string(retention.count()), text_array(tables), std::to_string(limit)});
    return first_column(r.get());
}

std::map<std::string, job_status> job_repository::statuses(const std::vector<std::string>& ids) {
    result_ptr r = session_.run("SELECT id::text, status FROM export_jobs WHERE id = ANY($1::uuid[])",
                                {text_array(ids)});
    std::map<std::string, job_status> found;
    // A status this version does not know (a newer version wrote it) counts as unfinished: its files stay.
    for (int i = 0; i < PQntuples(r.get()); ++i)
        found.emplace(*get_text(r.get(), i, 0),
                      parse_job_status(*get_text(r.get(), i, 1)).value_or(job_status::running));
    return found;
}

std::map<job_status, std::int64_t> job_repository::count_by_status(const std::vector<std::string>& tables) {
    result_ptr r = session_.run(
        "SELECT status, count(*) FROM export_jobs WHERE table_name = ANY($1::text[]) GROUP BY status",
        {text_array(tables)});
    std::map<job_status, std::int64_t> counts;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        if (auto s = parse_job_status(*get_text(r.get(), i, 0)))
            counts[*s] = *get_int64(r.get(), i, 1);
    return counts;
}

} // namespace pgexport::engine::detail
