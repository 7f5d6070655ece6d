#pragma once
// An export request: which rows (filters) and which columns, as CONTRACT.md's POST /api/export body.

#include <pgexport/error.hpp>

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine {

enum class filter_op { eq, ne, gt, gte, lt, lte, in };

// "eq", "ne", ... as in the request body.
std::string_view to_string(filter_op op);

// One condition on one column. A value is the text PostgreSQL parses as the column's type; nullopt is
// SQL NULL, allowed only with eq (IS NULL) and ne (IS NOT NULL). `in` has one or more values, every
// other operator exactly one.
struct filter {
    std::string column;
    filter_op op = filter_op::eq;
    std::vector<std::optional<std::string>> values;

    friend bool operator==(const filter&, const filter&) = default;
};

// The file's format: "csv" (PostgreSQL's COPY ... FORMAT csv), "jsonl" (one row_to_json per line) or
// "parquet" (one Parquet file, typed columns: CONTRACT.md, Part 3).
enum class output_format { csv, jsonl, parquet };

// The file's compression: none, or gzip (one gzip member per chunk).
enum class output_compression { none, gzip };

std::string_view to_string(output_format format);
std::string_view to_string(output_compression compression);

// The request's "consistency": chunked, each chunk sees the rows as they are when it is read (bounded by
// the fixed end); snapshot, every chunk of every slice reads one snapshot taken when the job starts, so
// the file is what one COPY in one transaction at that moment would have written (docs/consistency.md).
enum class export_consistency { chunked, snapshot };

std::string_view to_string(export_consistency consistency);

// The "csv" field: COPY's own options. The file is what COPY ... TO STDOUT WITH (FORMAT csv, DELIMITER
// delimiter, HEADER header, NULL null [, FORCE_QUOTE *]) writes, after the UTF-8 BOM when `bom`.
struct csv_options {
    char delimiter = ',';
    bool header = true;
    std::string null;
    bool force_quote = false;
    bool bom = false;

    friend bool operator==(const csv_options&, const csv_options&) = default;
};

// The "notify" field: where the job's end is announced (a signed POST, Standard Webhooks), and for which of
// its final states.
struct notify_request {
    std::string url;                 // http:// or https://; its host must resolve to public addresses (or be
                                     // allowed by the server), checked at creation and at every try
    std::vector<std::string> events; // of "completed", "failed", "cancelled", "expired", in that order

    friend bool operator==(const notify_request&, const notify_request&) = default;
};

// The events a notification may be asked for, in the order a request holds them.
inline constexpr std::string_view notify_events[] = {"completed", "failed", "cancelled", "expired"};

// How a Parquet file's pages are compressed.
enum class parquet_compression { zstd, snappy, none };

std::string_view to_string(parquet_compression compression);

// The "parquet" field. A row group holds row_group_rows rows (the last one fewer), or fewer when its
// encoded pages reach engine_config::parquet_row_group_bytes first (32 MiB by default: the bound on a job's
// memory, whatever the rows' width).
struct parquet_options {
    parquet_compression compression = parquet_compression::zstd;
    std::int64_t row_group_rows = 100'000;

    friend bool operator==(const parquet_options&, const parquet_options&) = default;
};

// The fields of a request that a "since" job's request fills in when the body leaves them out.
struct inherited_fields {
    bool table = false;
    bool filters = false;
    bool columns = false;
    bool format = false;
    bool csv = false;
    bool compression = false;
    bool parquet = false;
    bool consistency = false;

    friend bool operator==(const inherited_fields&, const inherited_fields&) = default;
};

// The "since" field: an incremental export, the rows whose key is above the fixed end of an earlier job
// (completed or expired, of the same table), whose request it takes what the body leaves out.
struct since_request {
    std::string job; // the earlier job's id, a UUID in lower case
    // What the body left out, read from it by parse_export_request and filled in at creation
    // (inherit_request); nothing once filled in, and not stored: a job's stored request is the whole one.
    inherited_fields inherit{};

    // The job alone: a request read back from its stored form is the same request.
    friend bool operator==(const since_request& a, const since_request& b) { return a.job == b.job; }
};

// The bounds of "rowGroupRows".
inline constexpr std::int64_t min_row_group_rows = 1'000;
inline constexpr std::int64_t max_row_group_rows = 10'000'000;

struct export_request {
    std::vector<filter> filters;      // ANDed, in the order given
    std::vector<std::string> columns; // empty: every column in table order
    std::optional<std::string> table; // one of the server's tables; nullopt: the first
    output_format format = output_format::csv;
    csv_options csv{};                // only with format csv
    output_compression compression = output_compression::none; // gzip: not with parquet
    parquet_options parquet{};        // only with format parquet
    // Connections that export key-range slices of the rows at once (1 to max_request_parallelism). When the
    // job is created the server lowers it to its own cap (engine_config::max_parallelism), then to the
    // slices the selection is worth (engine_config::min_slice_rows): a job's request holds what it runs.
    int parallelism = 1;
    export_consistency consistency = export_consistency::chunked;
    std::optional<notify_request> notify{}; // nullopt: nobody is told when the job ends
    std::optional<since_request> since{};   // nullopt: every row up to the fixed end

    friend bool operator==(const export_request&, const export_request&) = default;
};

// The most "parallelism" a request may ask for.
inline constexpr int max_request_parallelism = 16;

// How large a request may be, counted in values: each value becomes SQL text in every chunk's statement
// and is checked by PostgreSQL at creation, so the bound is on them, not only on the body's bytes.
struct request_limits {
    std::size_t max_in_values = 100'000;     // values in one "in" list
    std::size_t max_filter_values = 200'000; // values in all filters together
    std::size_t max_columns = 1'000;         // names in "columns"
};

// Reads a request body: {"filters": {...}, "columns": [...], "table": "...", "format": "csv|jsonl|parquet",
// "csv": {...}, "compression": "none|gzip", "parquet": {"compression": "zstd|snappy|none", "rowGroupRows": N},
// "parallelism": 1..16, "notify": {"url", "events"}, "consistency": "chunked|snapshot", "since": "<jobId>"},
// all optional, nothing else. "csv" goes only with csv, "parquet" only with parquet, and gzip not with
// parquet (whose pages are compressed already). "notify"'s URL
// is checked for its form here (http or https, a host, no credentials or fragment); where its host points is
// the engine's to check. The csv options are checked as
// COPY checks them (and a NULL string of \. is refused: it would read back as COPY's end marker), so a
// job never fails on them later.
// A filter is column -> scalar (eq), array (in), or an object of eq/ne/gt/gte/lt/lte/in. Scalars may be
// strings, numbers or booleans (taken as their text) or null. Checks shape, encoding (valid UTF-8, no
// NUL) and size (`limits`: invalid_request naming the cap); columns and value types are checked against
// the table by the engine.
result<export_request> parse_export_request(const boost::json::value& body, const request_limits& limits = {});

// `request` (with "since") completed from `earlier`, the since job's request: the table, filters, columns,
// format, consistency, and the csv, parquet and compression options the body left out (request.since->inherit) are
// the earlier job's; csv options only for csv, parquet options only for parquet, compression not for
// parquet, so that a body that changes the format alone still makes a valid request. Parallelism and
// notify are never inherited: they are how this run goes, not what it selects. Pure.
export_request inherit_request(export_request request, const export_request& earlier);

// The request as JSON that parse_export_request reads back to an equal request.
boost::json::value to_json(const export_request& request);

// The download's file name: export-<id>.csv, .jsonl, .csv.gz, .jsonl.gz or .parquet.
std::string download_file_name(std::string_view job_id, const export_request& request);

// The download's Content-Type: text/csv; charset=utf-8, application/x-ndjson, application/gzip or
// application/vnd.apache.parquet.
std::string_view download_content_type(const export_request& request);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

} // namespace pgexport::engine
