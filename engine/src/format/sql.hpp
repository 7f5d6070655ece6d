#pragma once
// Builds the SQL of an export from the table's schema and a validated request. Pure: no I/O.
//
// Safety: identifiers come from the catalog and are always double-quoted; values are validated text
// (UTF-8, no NUL) written as string literals with quote_literal, then cast to the column's catalog type.
// No request text reaches SQL any other way.

#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// The statement that lowers the session's random_page_cost to `random_page_cost` when the server's is
// higher (engine_config::random_page_cost); nullopt when there is nothing to apply.
std::optional<std::string> planner_settings_sql(std::optional<double> random_page_cost);

// "name" with inner quotes doubled.
std::string quote_identifier(std::string_view name);

// A string literal that reads back as `text` whatever standard_conforming_strings is: '...' with quotes
// doubled, and E'...' with backslashes doubled too when `text` holds a backslash (as PQescapeLiteral).
std::string quote_literal(std::string_view text);

// The output columns: the request's, or every column of the table in order.
std::vector<std::string> output_columns(const table_schema& schema, const export_request& request);

// Checks that every column and filter column exists. Returns the problem, or nullopt.
std::optional<problem> check_columns(const table_schema& schema, const export_request& request);

// The request's filters as a boolean SQL expression ("TRUE" with none).
std::string where_clause(const table_schema& schema, const export_request& request);

// True when the first output column is the key: then each row starts with it already.
bool key_leads(const table_schema& schema, const export_request& request);

// One chunk: rows with after < key <= upper in key order, at most `limit`; no lower bound when `after` is
// nullopt. The key comes first: as the first output column when key_leads, else as an extra column that
// the engine reads and strips. For jsonl each row is the key and the row_to_json text of the output columns;
// for parquet, FORMAT binary of the key and the output columns (::text where their Parquet column is text).
std::string chunk_copy_sql(const table_schema& schema, const export_request& request,
                           std::optional<std::int64_t> after, std::int64_t upper, int limit);

// A COPY that returns only the CSV header line of the output columns, exactly as PostgreSQL writes it with
// the request's csv options; nullopt when the file has no header (jsonl, or "header": false).
std::optional<std::string> header_copy_sql(const table_schema& schema, const export_request& request);

// The options of the request's COPY statements: FORMAT csv with its DELIMITER, NULL, FORCE_QUOTE and (when
// `header`) HEADER true; for jsonl, a delimiter and quote that JSON text never holds; for parquet, FORMAT
// binary. Values are literals.
std::string copy_options(const export_request& request, bool header);

// A page for the listing API: one JSON object per row (the output columns), key order, key > after.
std::string records_page_sql(const table_schema& schema, const export_request& request,
                             std::optional<std::int64_t> after, int limit);

// The planner's estimate query for the rows of the export: EXPLAIN (FORMAT JSON) of the filtered scan of
// after < key <= upper (no lower bound when `after` is nullopt; so below).
std::string estimate_sql(const table_schema& schema, const export_request& request,
                         std::optional<std::int64_t> after, std::int64_t upper);

// A parallel job's sample of keys: the selection's keys in (after, upper] in a TABLESAMPLE SYSTEM of
// `percent` % of the table's pages, sorted.
std::string key_sample_sql(const table_schema& schema, const export_request& request,
                           std::optional<std::int64_t> after, std::int64_t upper, double percent);

// The selection's key in (after, upper] at each of the n-quantiles 1/n .. (n-1)/n, exact (one scan of the
// selection): the cuts when the selection is too small for a sample to tell.
std::string key_quantiles_sql(const table_schema& schema, const export_request& request,
                              std::optional<std::int64_t> after, std::int64_t upper, int n);

} // namespace pgexport::engine::detail
