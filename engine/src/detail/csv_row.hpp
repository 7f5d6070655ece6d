#pragma once
// Reading the key off the rows of a chunk. Pure: no I/O.
//
// Each chunk's COPY selects the key first, so every row PostgreSQL sends starts with "<integer>,".
// libpq returns exactly one row per PQgetCopyData call (embedded line breaks included), so no CSV
// scanning is needed to find row boundaries: the key is the digits before the first comma.

#include <cstdint>
#include <optional>
#include <string_view>

namespace pgexport::engine::detail {

struct keyed_row {
    std::int64_t key;
    std::string_view rest; // the row of the output columns, newline included
};

// Splits "<key>,<rest>"; nullopt when the row does not start with an integer and a comma.
std::optional<keyed_row> split_keyed_row(std::string_view row);

// The key of a row whose first output column is the key itself: the integer before the first comma, or
// before the newline when it is the only column. nullopt otherwise.
std::optional<std::int64_t> leading_key(std::string_view row);

// The bytes that PostgreSQL writes for `rest` when it is the only column: there, a lone \. is quoted
// (so that it cannot read as COPY's end marker). With several columns `rest` is already exact.
std::string_view single_column_row(std::string_view rest);

} // namespace pgexport::engine::detail
