#pragma once
// Reading the key off the rows of a chunk. Pure: no I/O.
//
// Each chunk's COPY selects the key first, so every row PostgreSQL sends starts with "<integer><delimiter>"
// (or "\"<integer>\"<delimiter>" with FORCE_QUOTE). libpq returns exactly one row per PQgetCopyData call
// (embedded line breaks included), so no CSV scanning is needed to find row boundaries: the key is the
// digits before the first delimiter. The delimiter is never a digit or '-' (the request refuses them).

#include <cstdint>
#include <optional>
#include <string_view>

namespace pgexport::engine::detail {

struct keyed_row {
    std::int64_t key;
    std::string_view rest; // the row of the output columns, newline included
};

// Splits "<key><delimiter><rest>", the key optionally in double quotes (FORCE_QUOTE); nullopt when the row
// does not start with an integer and the delimiter.
std::optional<keyed_row> split_keyed_row(std::string_view row, char delimiter = ',');

// The key of a row whose first output column is the key itself: the integer (optionally in double quotes)
// before the first delimiter, or before the newline when it is the only column. nullopt otherwise.
std::optional<std::int64_t> leading_key(std::string_view row, char delimiter = ',');

// The byte the jsonl COPY quotes with, and its delimiter: neither can occur in JSON text, where control
// characters are escaped (\u0001), so PostgreSQL never quotes a value for holding them.
inline constexpr char jsonl_quote = '\x01';
inline constexpr char jsonl_delimiter = '\x02';

// The JSON text of a jsonl row from the `rest` of its keyed row (PostgreSQL's row_to_json text, then the
// newline), without the newline. COPY quotes the value only when it holds a line break (a json column's own
// whitespace, which row_to_json keeps): then the quotes (jsonl_quote, which JSON text never holds, so never
// doubled inside) are dropped. nullopt when `rest` is not such a row.
std::optional<std::string_view> jsonl_text(std::string_view rest);

// The bytes that PostgreSQL writes for `rest` when it is the only column: there, a lone \. is quoted
// (so that it cannot read as COPY's end marker). With several columns `rest` is already exact.
std::string_view single_column_row(std::string_view rest);

} // namespace pgexport::engine::detail
