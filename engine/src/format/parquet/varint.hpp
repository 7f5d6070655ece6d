#pragma once
// ULEB-128 varints, as both Thrift's compact protocol and the RLE/bit-packed hybrid's run headers write them.

#include <cstdint>
#include <string>

namespace pgexport::engine::detail::parquet {

// Appends `value` 7 bits a byte, least significant first, the high bit set on every byte but the last.
inline void append_uleb128(std::uint64_t value, std::string& out) {
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7F) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

} // namespace pgexport::engine::detail::parquet
