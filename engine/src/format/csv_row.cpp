#include "format/csv_row.hpp"

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

// The key at the start of `row`, bare or in double quotes; `end` is past the closing quote.
std::optional<parsed_key> parse_field_key(std::string_view row) {
    if (row.empty() || row[0] != '"')
        return parse_key(row);
    auto key = parse_key(row.substr(1));
    if (!key || key->end + 1 >= row.size() || row[key->end + 1] != '"')
        return std::nullopt;
    return parsed_key{key->value, key->end + 2};
}

} // namespace

std::optional<keyed_row> split_keyed_row(std::string_view row, char delimiter) {
    auto key = parse_field_key(row);
    if (!key || key->end >= row.size() || row[key->end] != delimiter)
        return std::nullopt;
    return keyed_row{key->value, row.substr(key->end + 1)};
}

std::optional<std::int64_t> leading_key(std::string_view row, char delimiter) {
    auto key = parse_field_key(row);
    if (!key || key->end >= row.size() || (row[key->end] != delimiter && row[key->end] != '\n'))
        return std::nullopt;
    return key->value;
}

std::optional<std::string_view> jsonl_text(std::string_view rest) {
    if (rest.empty() || rest.back() != '\n')
        return std::nullopt;
    rest.remove_suffix(1);
    if (!rest.empty() && rest.front() == jsonl_quote) {
        if (rest.size() < 2 || rest.back() != jsonl_quote)
            return std::nullopt;
        rest = rest.substr(1, rest.size() - 2);
    }
    if (rest.empty())
        return std::nullopt;
    return rest;
}

std::string_view single_column_row(std::string_view rest) {
    if (rest == "\\.\n")
        return "\"\\.\"\n";
    return rest;
}

} // namespace pgexport::engine::detail
