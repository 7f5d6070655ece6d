#include "range.hpp"

#include "text.hpp"

#include <charconv>

namespace pgexport::http {

namespace {

std::optional<std::uint64_t> number(std::string_view s) {
    if (s.empty())
        return std::nullopt;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return n;
}

} // namespace

range_decision parse_range(std::optional<std::string_view> header, std::uint64_t size) {
    if (!header)
        return {};
    std::string_view h = trim_blanks(*header);
    constexpr std::string_view unit = "bytes=";
    if (h.size() < unit.size())
        return {};
    for (std::size_t i = 0; i < unit.size(); ++i)
        if ((h[i] | 0x20) != unit[i] && h[i] != unit[i])
            return {};
    std::string_view spec = trim_blanks(h.substr(unit.size()));
    if (spec.find(',') != std::string_view::npos)
        return {}; // several ranges: allowed to ignore, and we do
    auto dash = spec.find('-');
    if (dash == std::string_view::npos)
        return {};
    std::string_view a = trim_blanks(spec.substr(0, dash));
    std::string_view b = trim_blanks(spec.substr(dash + 1));
    if (a.empty()) {
        // A suffix: the last n bytes.
        auto n = number(b);
        if (!n)
            return {};
        if (*n == 0 || size == 0)
            return {range_kind::unsatisfiable, {}};
        const std::uint64_t len = std::min(*n, size);
        return {range_kind::partial, {size - len, size - 1}};
    }
    auto first = number(a);
    if (!first)
        return {};
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!b.empty()) {
        auto l = number(b);
        if (!l || *l < *first)
            return {}; // syntactically invalid: ignore
        last = std::min(*l, last);
    }
    if (*first >= size)
        return {range_kind::unsatisfiable, {}};
    return {range_kind::partial, {*first, last}};
}

} // namespace pgexport::http
