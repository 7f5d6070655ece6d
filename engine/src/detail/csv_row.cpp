#include "detail/csv_row.hpp"

#include <limits>

namespace pgexport::engine::detail {

namespace {

struct parsed_key {
    std::int64_t value;
    std::size_t end; // index of the first byte after the digits
};

// The integer at the start of `row`, as PostgreSQL prints an integer column (optional '-', digits).
std::optional<parsed_key> parse_key(std::string_view row) {
    std::size_t i = 0;
    const bool negative = !row.empty() && row[0] == '-';
    if (negative)
        ++i;
    const std::size_t digits_start = i;
    // Accumulate negatively so that INT64_MIN fits.
    std::int64_t value = 0;
    constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
    for (; i < row.size() && row[i] >= '0' && row[i] <= '9'; ++i) {
        const int d = row[i] - '0';
        if (value < (min + d) / 10)
            return std::nullopt;
        value = value * 10 - d;
    }
    if (i == digits_start)
        return std::nullopt;
    if (!negative) {
        if (value == min)
            return std::nullopt;
        value = -value;
    }
    return parsed_key{value, i};
}

} // namespace

std::optional<keyed_row> split_keyed_row(std::string_view row) {
    auto key = parse_key(row);
    if (!key || key->end >= row.size() || row[key->end] != ',')
        return std::nullopt;
    return keyed_row{key->value, row.substr(key->end + 1)};
}

std::optional<std::int64_t> leading_key(std::string_view row) {
    auto key = parse_key(row);
    if (!key || key->end >= row.size() || (row[key->end] != ',' && row[key->end] != '\n'))
        return std::nullopt;
    return key->value;
}

std::string_view single_column_row(std::string_view rest) {
    if (rest == "\\.\n")
        return "\"\\.\"\n";
    return rest;
}

} // namespace pgexport::engine::detail
