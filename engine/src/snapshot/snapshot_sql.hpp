#pragma once
// The statements of snapshot-consistent exports ("consistency": "snapshot"). Pure: no I/O. The same safety
// rules as format/sql.hpp: identifiers from the catalog, quoted; values as literals.

#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace pgexport::engine::detail {

// The WAL position of the server now, as pg_lsn text: a standby's replay position, a primary's insert
// position. One column.
std::string wal_position_sql();

// Opens the held session's transaction and locks the relation as a COPY would (ACCESS SHARE: TRUNCATE and
// table rewrites, which are not MVCC-safe, wait for the export instead of emptying it under its snapshot).
// LOCK takes no snapshot: the next statement's is the transaction's, taken after the lock is granted.
std::string hold_begin_sql(const table_schema& schema);

// In the held transaction, its first statement (which takes the snapshot): pg_export_snapshot(),
// pg_current_snapshot() as text, the database's clock in µs since the epoch, the WAL position after
// (wal_position_sql), pg_is_in_recovery(), the cluster's system identifier (NULL when the role may not
// read pg_control_system()), and the highest key under the snapshot (NULL when the relation is empty).
std::string snapshot_facts_sql(const table_schema& schema);

// Whether the relation's rows are a table's tuples, that have an xmin (a table, partitioned or not): one
// boolean column.
std::string relation_has_xmin_sql(const table_schema& schema);

// One chunk's transaction, before its COPY: REPEATABLE READ READ ONLY, importing `snapshot_id`.
std::string chunk_begin_sql(const std::string& snapshot_id);

// The resume check of one written key range (after < key <= upper, no lower bound when nullopt) under the
// request's filters, run in the new snapshot's transaction: the rows there, and those whose xmin does not
// precede `recorded_xmin` (a full transaction id). A tuple's 32-bit xmin (the raw one: freezing keeps it)
// is widened against the new snapshot's xmax, to the full id at distance (xmax - xmin) mod 2^32 below it:
// exact for every tuple less than 2^32 transactions old, which decide_snapshot_resume relies on (it goes
// on only when the new xmax is within 2^31 above `recorded_xmin`). Tuples frozen before 9.4 (xmin 2) and
// bootstrap ones (1) count as old.
std::string prefix_check_sql(const table_schema& schema, const export_request& request,
                             std::optional<std::int64_t> after, std::int64_t upper, std::uint64_t recorded_xmin);

} // namespace pgexport::engine::detail
