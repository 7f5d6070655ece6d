#pragma once
// The export_jobs table and the catalog look-ups the engine needs. Blocking libpq on one connection:
// the engine calls it only from its single store thread, never from the event loop.

#include "detail/pg.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/job.hpp>
#include <pgexport/table_schema.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct stored_job {
    job_info info;
    std::optional<std::int64_t> key_upper_bound;
};

class job_store {
public:
    job_store(std::string url, std::chrono::milliseconds statement_timeout,
              std::chrono::milliseconds connect_timeout);

    // Reads the columns of `table` and checks `key`. Throws std::runtime_error with a clear message.
    table_schema load_schema(const std::string& table, const std::string& key);

    // `text` parsed as `type` and printed back by PostgreSQL, so that values like 'now' are fixed at
    // creation. invalid_value when it does not parse.
    result<std::string> canonical_value(const std::string& column, const std::string& type,
                                        const std::string& text);

    std::optional<std::int64_t> max_key(const table_schema& schema);
    std::optional<std::int64_t> estimate_rows(const std::string& explain_sql);

    void insert(const job_info& job, std::optional<std::int64_t> key_upper_bound);
    std::optional<stored_job> get(const std::string& id);
    std::vector<stored_job> list(const owner_filter& owner, int limit);
    // Queued and running jobs, running ones first, each group in creation order.
    std::vector<stored_job> unfinished();

    // queued/running -> running; started_at set once. Returns started_at, or nullopt when the job is no
    // longer queued or running.
    std::optional<timestamp> mark_running(const std::string& id);
    // False when the job is no longer running (cancelled meanwhile).
    bool checkpoint(const std::string& id, std::optional<std::int64_t> last_id, std::int64_t rows,
                    std::int64_t bytes, int attempts);
    // running -> completed. Returns the job's status after the call: completed (now or by an earlier run
    // of the same call), or the state that stopped it (cancelled); nullopt when the job is unknown.
    std::optional<job_status> complete(const std::string& id, const std::string& file_path, std::int64_t rows,
                                       std::int64_t bytes, int attempts);
    void fail(const std::string& id, const std::string& error);
    // queued/running -> cancelled; the job's state before, or nullopt when unknown.
    std::optional<job_status> cancel(const std::string& id);

    bool ping();

    std::map<job_status, std::int64_t> count_by_status();

    // Runs a records_page_sql query: (key, row JSON) pairs.
    std::vector<std::pair<std::int64_t, std::string>> records(const std::string& sql);

private:
    // Throws when a table's key is not covered by a unique index; logs a warning for a view.
    void check_key_is_unique(const std::string& table, const std::string& key);
    // Runs `sql`, reconnecting and running it once more when the connection was lost: only for
    // statements that are safe to repeat.
    result_ptr run(std::string_view sql, const std::vector<std::optional<std::string>>& params = {});
    // Runs `sql` once; a lost connection is the caller's to report.
    result_ptr run_once(std::string_view sql, const std::vector<std::optional<std::string>>& params = {});
    PGconn* connection();

    std::string url_;
    std::chrono::milliseconds statement_timeout_;
    std::chrono::milliseconds connect_timeout_;
    conn_ptr conn_;
};

} // namespace pgexport::engine::detail
