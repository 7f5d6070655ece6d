#include "snapshot/snapshot_sql.hpp"

#include "format/sql.hpp"

namespace pgexport::engine::detail {

std::string wal_position_sql() {
    // pg_current_wal_insert_lsn() fails in recovery: CASE evaluates only the branch it takes.
    return "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
           " ELSE pg_current_wal_insert_lsn() END)::text";
}

std::string hold_begin_sql(const table_schema& schema) {
    return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; LOCK TABLE " + schema.relation() +
           " IN ACCESS SHARE MODE";
}

std::string snapshot_facts_sql(const table_schema& schema) {
    return "SELECT pg_export_snapshot(), pg_current_snapshot()::text,"
           " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,"
           " (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text,"
           " pg_is_in_recovery(),"
           " CASE WHEN has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')"
           " THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END,"
           " (SELECT max(" +
           quote_identifier(schema.key) + ") FROM " + schema.relation() + ")";
}

std::string relation_has_xmin_sql(const table_schema& schema) {
    return "SELECT relkind IN ('r', 'p') FROM pg_catalog.pg_class WHERE oid = " + quote_literal(schema.relation()) +
           "::regclass";
}

std::string chunk_begin_sql(const std::string& snapshot_id) {
    return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + quote_literal(snapshot_id);
}

std::string prefix_check_sql(const table_schema& schema, const export_request& request,
                             std::optional<std::int64_t> after, std::int64_t upper, std::uint64_t recorded_xmin) {
    const std::string key = quote_identifier(schema.key);
    // The filters name the relation's columns unqualified: the snapshot's xmax comes in under a name no
    // column is likely to have, in a sub-select joined to every row.
    const std::string x = "pgexport_t.xmin::text::bigint";
    const std::string next = "pgexport_s.pgexport_next";
    std::string sql = "SELECT count(*), count(*) FILTER (WHERE " + x + " > 2 AND " + next + " - ((" + next +
                      " % 4294967296 - " + x + " + 4294967296) % 4294967296) >= " +
                      std::to_string(recorded_xmin) + ") FROM " + schema.relation() +
                      " pgexport_t, (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS pgexport_next)"
                      " pgexport_s WHERE (" +
                      where_clause(schema, request) + ")";
    if (after)
        sql += " AND pgexport_t." + key + " > " + std::to_string(*after);
    sql += " AND pgexport_t." + key + " <= " + std::to_string(upper);
    return sql;
}

} // namespace pgexport::engine::detail
