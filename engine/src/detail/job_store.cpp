#include "detail/job_store.hpp"

#include "detail/sql.hpp"

#include <pgexport/log.hpp>

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
                                    " (extract(epoch FROM finished_at) * 1000000)::bigint";

std::optional<timestamp> micros(const PGresult* r, int row, int column) {
    auto v = get_int64(r, row, column);
    if (!v)
        return std::nullopt;
    return timestamp(std::chrono::duration_cast<timestamp::duration>(std::chrono::microseconds(*v)));
}

stored_job read_job(const PGresult* r, int row) {
    stored_job j;
    job_info& info = j.info;
    info.id = *get_text(r, row, 0);
    info.status = parse_job_status(*get_text(r, row, 1)).value_or(job_status::failed);
    auto request = parse_export_request(json::parse(*get_text(r, row, 2)));
    if (!request)
        throw std::runtime_error("job " + info.id + " has an unreadable request: " + request.error().message);
    info.request = std::move(*request);
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
    return j;
}

std::optional<std::string> opt_int(std::optional<std::int64_t> v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

} // namespace

job_store::job_store(std::string url, std::chrono::milliseconds statement_timeout,
                     std::chrono::milliseconds connect_timeout)
    : url_(std::move(url)), statement_timeout_(statement_timeout), connect_timeout_(connect_timeout) {}

PGconn* job_store::connection() {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK)
        conn_ = connect_blocking(url_, statement_timeout_, connect_timeout_);
    return conn_.get();
}

result_ptr job_store::run(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
    try {
        return exec(connection(), sql, params);
    } catch (const pg_error& e) {
        // A connection lost since the last statement (say, a database restart): one fresh try. Every
        // statement sent through run() is safe to repeat: it may have been carried out before the
        // connection broke, and a second time changes nothing (see cancel() for the one that is not).
        if (!e.sqlstate().empty() && !e.sqlstate().starts_with("08") && !e.sqlstate().starts_with("57P"))
            throw;
        conn_.reset();
        return exec(connection(), sql, params);
    }
}

result_ptr job_store::run_once(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
    try {
        return exec(connection(), sql, params);
    } catch (const pg_error& e) {
        if (e.transient())
            conn_.reset(); // the next statement connects afresh
        throw;
    }
}

table_schema job_store::load_schema(const std::string& table, const std::string& key) {
    result_ptr rel = run("SELECT to_regclass($1)::text", {table});
    auto name = get_text(rel.get(), 0, 0);
    if (!name)
        throw std::runtime_error("table \"" + table + "\" does not exist (see --table)");
    table_schema schema{*name, key, {}};
    result_ptr cols =
        run("SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
            " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            {*name});
    for (int i = 0; i < PQntuples(cols.get()); ++i) {
        std::string type = *get_text(cols.get(), i, 1);
        // Without their length, "character" and "bit" mean length 1: a cast to them would cut values short.
        if (type == "character")
            type = "bpchar";
        else if (type == "bit")
            type = "bit varying";
        schema.columns.push_back({*get_text(cols.get(), i, 0), std::move(type)});
    }
    const column_info* k = schema.find(key);
    if (!k)
        throw std::runtime_error("table " + *name + " has no column \"" + key + "\" (see --key)");
    if (k->type != "bigint" && k->type != "integer" && k->type != "smallint")
        throw std::runtime_error("key column \"" + key + "\" of " + *name + " is " + k->type +
                                 "; it must be an integer column (smallint, integer or bigint)");
    check_key_is_unique(*name, key);
    return schema;
}

result<std::string> job_store::canonical_value(const std::string& column, const std::string& type,
                                               const std::string& text) {
    try {
        result_ptr r = run("SELECT $1::" + type + "::text", {text});
        return *get_text(r.get(), 0, 0);
    } catch (const pg_error& e) {
        if (e.sqlstate().starts_with("22") || e.sqlstate().starts_with("42"))
            return problem{errc::invalid_value, "filter \"" + column + "\": " + e.what()};
        throw;
    }
}

void job_store::check_key_is_unique(const std::string& table, const std::string& key) {
    // Keyset chunks (key > last ORDER BY key LIMIT n) skip rows that share a key across a chunk's end,
    // so the key must be unique. A unique index counts when it is on the key alone, not partial, and valid.
    result_ptr r = run("SELECT c.relkind::text, a.attnotnull, EXISTS (SELECT FROM pg_index i"
                       " WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL"
                       " AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum)"
                       " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2"
                       " WHERE c.oid = $1::regclass",
                       {table, key});
    const std::string kind = get_text(r.get(), 0, 0).value_or("");
    const bool not_null = get_text(r.get(), 0, 1) == std::optional<std::string>("t");
    const bool unique = get_text(r.get(), 0, 2) == std::optional<std::string>("t");
    if (!unique && (kind == "r" || kind == "p" || kind == "m"))
        throw std::runtime_error("key column \"" + key + "\" of " + table +
                                 " is not covered by a unique index or primary key; rows that share a key"
                                 " would be skipped. Add one (CREATE UNIQUE INDEX ... (" + key +
                                 ")) or choose another --key");
    if (!unique)
        log_event("warning", "key_not_checked",
                  {{"table", table},
                   {"key", key},
                   {"why", "a view or foreign table has no index to prove its key unique; rows that share a"
                           " key would be skipped"}});
    else if (!not_null)
        log_event("warning", "key_nullable",
                  {{"table", table}, {"key", key}, {"why", "rows whose key is NULL are never exported"}});
}

std::optional<std::int64_t> job_store::max_key(const table_schema& schema) {
    result_ptr r = run("SELECT max(" + quote_identifier(schema.key) + ") FROM " + schema.table);
    return get_int64(r.get(), 0, 0);
}

std::optional<std::int64_t> job_store::estimate_rows(const std::string& explain_sql) {
    result_ptr r = run(explain_sql);
    json::value plan = json::parse(*get_text(r.get(), 0, 0));
    const json::value* rows = plan.at(0).at("Plan").get_object().if_contains("Plan Rows");
    if (!rows)
        return std::nullopt;
    return static_cast<std::int64_t>(rows->to_number<double>());
}

void job_store::insert(const job_info& job, std::optional<std::int64_t> key_upper_bound) {
    const auto created_us =
        std::chrono::duration_cast<std::chrono::microseconds>(job.created_at.time_since_epoch()).count();
    // Repeatable: a second run after a lost reply finds the row there and adds nothing.
    run("INSERT INTO export_jobs (id, status, request, owner, key_upper_bound, total_rows_estimate, "
        "created_at)"
        " VALUES ($1, 'queued', $2, $3, $4, $5, to_timestamp($6::double precision / 1000000))"
        " ON CONFLICT (id) DO NOTHING",
        {job.id, json::serialize(to_json(job.request)), job.owner, opt_int(key_upper_bound),
         opt_int(job.total_rows_estimate), std::to_string(created_us)});
}

std::optional<stored_job> job_store::get(const std::string& id) {
    result_ptr r = run(std::string("SELECT ") + job_columns + " FROM export_jobs WHERE id = $1", {id});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return read_job(r.get(), 0);
}

std::vector<stored_job> job_store::list(const owner_filter& owner, int limit) {
    result_ptr r = run(std::string("SELECT ") + job_columns +
                           " FROM export_jobs WHERE ($1::text IS NULL OR owner = $1)"
                           " ORDER BY created_at DESC, id LIMIT $2",
                       {owner, std::to_string(limit)});
    std::vector<stored_job> jobs;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        jobs.push_back(read_job(r.get(), i));
    return jobs;
}

std::vector<stored_job> job_store::unfinished() {
    result_ptr r = run(std::string("SELECT ") + job_columns +
                       " FROM export_jobs WHERE status IN ('queued', 'running')"
                       " ORDER BY status = 'running' DESC, created_at, id");
    std::vector<stored_job> jobs;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        jobs.push_back(read_job(r.get(), i));
    return jobs;
}

std::optional<timestamp> job_store::mark_running(const std::string& id) {
    result_ptr r = run("UPDATE export_jobs SET status = 'running', started_at = coalesce(started_at, now()),"
                       " updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')"
                       " RETURNING (extract(epoch FROM started_at) * 1000000)::bigint",
                       {id});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return micros(r.get(), 0, 0);
}

bool job_store::checkpoint(const std::string& id, std::optional<std::int64_t> last_id, std::int64_t rows,
                           std::int64_t bytes, int attempts) {
    result_ptr r =
        run("UPDATE export_jobs SET last_processed_id = $2, rows_exported = $3, bytes_written = $4,"
            " attempts = $5, updated_at = now() WHERE id = $1 AND status = 'running'",
            {id, opt_int(last_id), std::to_string(rows), std::to_string(bytes), std::to_string(attempts)});
    return std::string_view(PQcmdTuples(r.get())) == "1";
}

std::optional<job_status> job_store::complete(const std::string& id, const std::string& file_path,
                                              std::int64_t rows, std::int64_t bytes, int attempts) {
    // Repeatable: when the first run's reply was lost, the second finds the job completed with this very
    // file and says so, instead of looking like a job cancelled meanwhile.
    result_ptr r = run("WITH done AS (UPDATE export_jobs SET status = 'completed', file_path = $2,"
                       " rows_exported = $3, bytes_written = $4, attempts = $5, finished_at = now(),"
                       " updated_at = now() WHERE id = $1 AND status = 'running' RETURNING status)"
                       " SELECT status FROM done UNION ALL"
                       " SELECT status FROM export_jobs WHERE id = $1 AND NOT EXISTS (SELECT FROM done)",
                       {id, file_path, std::to_string(rows), std::to_string(bytes), std::to_string(attempts)});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return parse_job_status(*get_text(r.get(), 0, 0));
}

void job_store::fail(const std::string& id, const std::string& error) {
    run("UPDATE export_jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now()"
        " WHERE id = $1 AND status IN ('queued', 'running')",
        {id, error});
}

std::optional<job_status> job_store::cancel(const std::string& id) {
    // The row lock makes the read of the old status and the change one step. Not repeated after a lost
    // connection: a second run would find the job cancelled by the first and call it a conflict.
    result_ptr r =
        run_once("WITH old AS (SELECT id, status FROM export_jobs WHERE id = $1 FOR UPDATE)"
            " UPDATE export_jobs j SET status = CASE WHEN old.status IN ('queued', 'running')"
            " THEN 'cancelled' ELSE old.status END,"
            " finished_at = CASE WHEN old.status IN ('queued', 'running') THEN now() ELSE j.finished_at END,"
            " updated_at = now() FROM old WHERE j.id = old.id RETURNING old.status",
            {id});
    if (PQntuples(r.get()) == 0)
        return std::nullopt;
    return parse_job_status(*get_text(r.get(), 0, 0));
}

std::map<job_status, std::int64_t> job_store::count_by_status() {
    result_ptr r = run("SELECT status, count(*) FROM export_jobs GROUP BY status");
    std::map<job_status, std::int64_t> counts;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        if (auto s = parse_job_status(*get_text(r.get(), i, 0)))
            counts[*s] = *get_int64(r.get(), i, 1);
    return counts;
}

std::vector<std::pair<std::int64_t, std::string>> job_store::records(const std::string& sql) {
    result_ptr r = run(sql);
    std::vector<std::pair<std::int64_t, std::string>> rows;
    rows.reserve(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i)
        rows.emplace_back(*get_int64(r.get(), i, 0), *get_text(r.get(), i, 1));
    return rows;
}

bool job_store::ping() {
    try {
        run("SELECT 1");
        return true;
    } catch (const pg_error&) {
        return false;
    }
}

} // namespace pgexport::engine::detail
