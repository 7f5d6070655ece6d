#include "detail/csv_row.hpp"

#include <limits>

namespace pgexport::engine::detail {

std::optional<keyed_row> split_keyed_row(std::string_view row) {
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
    if (i == digits_start || i >= row.size() || row[i] != ',')
        return std::nullopt;
    if (!negative) {
        if (value == min)
            return std::nullopt;
        value = -value;
    }
    return keyed_row{value, row.substr(i + 1)};
}

std::string_view single_column_row(std::string_view rest) {
    if (rest == "\\.\n")
        return "\"\\.\"\n";
    return rest;
}

} // namespace pgexport::engine::detail
