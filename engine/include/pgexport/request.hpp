#pragma once
// An export request: which rows (filters) and which columns, as CONTRACT.md's POST /api/export body.

#include <pgexport/error.hpp>

#include <boost/json/value.hpp>

#include <cstddef>
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

struct export_request {
    std::vector<filter> filters;      // ANDed, in the order given
    std::vector<std::string> columns; // empty: every column in table order
    std::optional<std::string> table; // one of the server's tables; nullopt: the first

    friend bool operator==(const export_request&, const export_request&) = default;
};

// How large a request may be, counted in values: each value becomes SQL text in every chunk's statement
// and is checked by PostgreSQL at creation, so the bound is on them, not only on the body's bytes.
struct request_limits {
    std::size_t max_in_values = 100'000;     // values in one "in" list
    std::size_t max_filter_values = 200'000; // values in all filters together
    std::size_t max_columns = 1'000;         // names in "columns"
};

// Reads a request body: {"filters": {...}, "columns": [...], "table": "..."}, all optional, nothing else.
// A filter is column -> scalar (eq), array (in), or an object of eq/ne/gt/gte/lt/lte/in. Scalars may be
// strings, numbers or booleans (taken as their text) or null. Checks shape, encoding (valid UTF-8, no
// NUL) and size (`limits`: invalid_request naming the cap); columns and value types are checked against
// the table by the engine.
result<export_request> parse_export_request(const boost::json::value& body, const request_limits& limits = {});

// The request as JSON that parse_export_request reads back to an equal request.
boost::json::value to_json(const export_request& request);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

} // namespace pgexport::engine
