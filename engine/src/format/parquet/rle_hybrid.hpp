#pragma once
// Parquet's RLE/bit-packed hybrid encoding (Encodings.md, "Run Length Encoding / Bit-Packing Hybrid"), for
// definition levels and dictionary indices, and its bit-packing for PLAIN booleans. Pure.
//
// The values are encoded as runs: a run of 8 or more equal values as an RLE run (a varint header
// `count << 1`, then the value in ceil(bit_width / 8) little-endian bytes), everything else as bit-packed
// runs (a varint header `groups << 1 | 1`, then the values 8 at a time, bit_width bits each, packed from the
// least significant bit of each byte). A bit-packed run holds a multiple of 8 values, so before an RLE run
// the pending literal values take as many of its values as make their count a multiple of 8; only the last
// run is padded (with zeros, which readers skip: they know the page's value count). The 4-byte length that
// data pages v1 put before definition levels is the caller's.

#include <cstdint>
#include <span>
#include <string>

namespace pgexport::engine::detail::parquet {

// Appends the hybrid encoding of `values` to `out`. Every value must fit in `bit_width` bits (1..32).
void append_rle_hybrid(std::span<const std::uint8_t> values, int bit_width, std::string& out);
void append_rle_hybrid(std::span<const std::uint32_t> values, int bit_width, std::string& out);

// Appends `values` (0 or 1 each) bit-packed, LSB first, the last byte padded with zeros: PLAIN booleans.
void append_bit_packed_bools(std::span<const std::uint8_t> values, std::string& out);

// The bits that hold every index of a dictionary of `entries` values: at least 1 (a width of 0 is legal
// but not read by every reader).
int dictionary_bit_width(std::size_t entries);

} // namespace pgexport::engine::detail::parquet
