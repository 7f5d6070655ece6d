#pragma once
// From PostgreSQL's columns to Parquet's (CONTRACT.md, Part 3, "Parquet"): which Parquet column each one
// becomes, how its binary COPY field is read, and whether the SELECT must read it as ::text; and the rows
// the decoder hands out appended to the writer. Pure.
//
// | PostgreSQL                          | Parquet                                             |
// | smallint, integer                   | INT32, INTEGER(16 or 32, signed)                    |
// | bigint                              | INT64, INTEGER(64, signed)                          |
// | real, double precision              | FLOAT, DOUBLE                                       |
// | boolean                             | BOOLEAN                                             |
// | numeric(p,s), 0 <= s <= p <= 38     | DECIMAL(p,s): INT32 (p <= 9), INT64 (p <= 18), else |
// |                                     | FIXED_LEN_BYTE_ARRAY of decimal_bytes(p) (9..16)    |
// | numeric without a typmod, or wider  | STRING, its text (::text)                           |
// | text, varchar, char, enum           | STRING                                              |
// | date                                | DATE                                                |
// | timestamp / timestamptz             | TIMESTAMP(MICROS, adjusted to UTC: false / true)    |
// | uuid                                | FIXED_LEN_BYTE_ARRAY(16), UUID                      |
// | json, jsonb                         | STRING's bytes, JSON                                |
// | bytea                               | BYTE_ARRAY                                          |
// | anything else                       | STRING, its text (::text)                           |
//
// A numeric wider than 38 digits becomes STRING rather than the contract's DECIMAL: DuckDB, Spark and
// most readers hold at most 38 digits, and PostgreSQL 15's negative scales and scales above the precision
// have no DECIMAL form at all.

#include "format/parquet/metadata.hpp"
#include "format/parquet/writer.hpp"
#include "format/pg_binary.hpp"

#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

struct pg_column_plan {
    pg_binary_column binary; // how the binary COPY field is read
    column_spec parquet;     // the Parquet column
    bool as_text = false;    // the SELECT reads the column as <column>::text
};

// The plan for the column `name` of type `type`, as format_type(atttypid, atttypmod) prints it (e.g.
// "numeric(12,2)", "character varying(20)", "timestamp(3) with time zone"), `is_enum` when its type is an
// enum (pg_type.typtype 'e'), `nullable` unless NOT NULL.
pg_column_plan plan_pg_column(std::string_view name, std::string_view type, bool is_enum, bool nullable);

// The plans of an export's output columns (format/sql.hpp's output_columns, in order), each from the
// column's catalog type with its typmod (column_info::full_type). Throws std::logic_error for a column the
// table does not have (requests are checked before).
std::vector<pg_column_plan> plan_export_columns(const table_schema& schema, const export_request& request);

// How the key, an integer column, is read (int2, int4 or int8).
pg_binary_column key_binary_column(const table_schema& schema);

// The Parquet writer's codec for a request's "parquet" "compression".
codec codec_of(parquet_compression compression);

// Appends the decoded row `fields` (one a column, from a decoder made with the plans' `binary`) to
// `out` and ends the row. Throws what the column writers throw for a value of the wrong kind.
void append_row(writer& out, std::span<const pg_field> fields);

} // namespace pgexport::engine::detail::parquet
