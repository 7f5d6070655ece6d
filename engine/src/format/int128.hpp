#pragma once
// 128-bit integers, GCC's and Clang's extension: a DECIMAL of up to 38 digits fits in one.

#include <array>

namespace pgexport::engine::detail {

// __extension__ keeps -Wpedantic quiet about a type ISO C++ lacks.
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// 10^0 .. 10^38, the largest power of ten below 2^127.
inline constexpr auto powers_of_ten = [] {
    std::array<uint128, 39> p{};
    p[0] = 1;
    for (std::size_t i = 1; i < p.size(); ++i)
        p[i] = p[i - 1] * 10;
    return p;
}();

} // namespace pgexport::engine::detail
