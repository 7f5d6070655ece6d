#pragma once
// What the engine reads of the exported table: its columns and key (checked unique), filter values as
// PostgreSQL parses them, the highest key, the planner's row estimate, and pages of rows for the listing.
// Blocking libpq on a connection of its own: called only from the engine's catalog thread, so a slow
// listing never delays a job's checkpoint.

#include "store/pg.hpp"
#include "policy/slice_plan.hpp"

#include <pgexport/error.hpp>
#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgexport::engine::detail {

class table_catalog {
public:
    table_catalog(std::string url, std::chrono::milliseconds statement_timeout,
                  std::chrono::milliseconds connect_timeout)
        : session_(std::move(url), statement_timeout, connect_timeout) {}

    // Reads the columns of `table` and checks `key`: an integer column that a unique index covers (a view
    // is taken with a warning in the log). Throws std::runtime_error with a clear message.
    table_schema load_schema(const std::string& table, const std::string& key);

    // Each of `texts` parsed as `type` (a column's cast_type()) and printed back by PostgreSQL, in order, so that values like 'now'
    // are fixed at creation: one statement for all of them, however many. invalid_value when one does not
    // parse (PostgreSQL's message quotes it).
    result<std::vector<std::string>> canonical_values(const std::string& column, const std::string& type,
                                                      const std::vector<std::string>& texts);

    // A job's fixed end: the highest key, and the primary's WAL position taken in the same statement,
    // after its snapshot, so that every commit the maximum can see lies below the position (what a
    // --replica standby must have replayed). pg_current_wal_insert_lsn(), not the write position: a
    // commit made with synchronous_commit off is visible before it is written.
    struct fixed_end {
        std::optional<std::int64_t> max_key; // nullopt: the table is empty
        std::string wal_lsn;                 // pg_lsn text
    };
    fixed_end fixed_end_of(const table_schema& schema);
    std::optional<std::int64_t> estimate_rows(const std::string& explain_sql);

    // A parallel job's slices: at most `n` over the selection's keys in (after .. fixed_end] (no lower
    // bound when `after` is nullopt; an incremental export's from key), balanced by rows.
    // Without filters from pg_stats' histogram of the key when it is fresh (few rows changed since the
    // last ANALYZE); otherwise from a TABLESAMPLE SYSTEM of the selection (about 400 pages), or the exact
    // quantiles when the selection is too small for a sample; even key ranges for a view, and when the
    // sample takes longer than sample_time_limit.
    std::vector<slice_bounds> plan_slices(const table_schema& schema, const export_request& request,
                                          std::optional<std::int64_t> after, std::int64_t fixed_end, int n);

    // pg_is_in_recovery(): true on a standby.
    bool in_recovery();
    // The cluster's system identifier (a standby shares its primary's); nullopt when the role may not read
    // it (pg_control_system() revoked).
    std::optional<std::string> system_identifier();

    // Runs a records_page_sql query: (key, row JSON) pairs.
    std::vector<std::pair<std::int64_t, std::string>> records(const std::string& sql);

    // The longest a slice plan's key sample may take (a statement of its own under this timeout); past it
    // the slices are even key ranges.
    static constexpr std::chrono::milliseconds sample_time_limit{2000};

private:
    // `sql` in a transaction of its own under `limit` (SET LOCAL statement_timeout); nullopt when it ran
    // out of time.
    std::optional<result_ptr> run_bounded(const std::string& sql, std::chrono::milliseconds limit);
    // Even key ranges from the lowest key above `after` up to `fixed_end`; sample_too_slow logs why first.
    std::vector<slice_bounds> even_key_ranges(const table_schema& schema, std::optional<std::int64_t> after,
                                              std::int64_t fixed_end, int n);
    std::vector<slice_bounds> sample_too_slow(const table_schema& schema, std::optional<std::int64_t> after,
                                              std::int64_t fixed_end, int n);

    // The filter operators PostgreSQL resolves for two values of `type`.
    std::vector<filter_op> operators_of(const std::string& type);
    // column_info::values of a column whose type's pg_type.typtype is `typtype`: an enum's labels; for
    // text, from the planner's statistics when the table was analyzed, else from at most
    // few_values_scan_rows rows. Never throws for a database error: no values then (logged).
    std::vector<std::string> few_values(const table_schema& schema, const column_info& column,
                                        const std::string& typtype);
    // `schema`'s key (the relation of OID `oid`) is covered by a unique index; throws otherwise.
    void check_key_is_unique(const table_schema& schema, const std::string& oid);

    blocking_session session_;
};

} // namespace pgexport::engine::detail
