#include "format/parquet/rle_hybrid.hpp"

#include "format/parquet/varint.hpp"

#include <bit>
#include <cassert>

namespace pgexport::engine::detail::parquet {

namespace {

// Packs `count` values from `values` (then zeros up to `padded`), `bit_width` bits each, LSB first.
template <class T>
void pack(const T* values, std::size_t count, std::size_t padded, int bit_width, std::string& out) {
    std::uint64_t bits = 0;
    int held = 0;
    for (std::size_t i = 0; i < padded; ++i) {
        const std::uint64_t value = i < count ? static_cast<std::uint64_t>(values[i]) : 0;
        bits |= value << held;
        held += bit_width;
        while (held >= 8) {
            out.push_back(static_cast<char>(bits & 0xFF));
            bits >>= 8;
            held -= 8;
        }
    }
    if (held > 0)
        out.push_back(static_cast<char>(bits & 0xFF));
}

template <class T> void encode(std::span<const T> values, int bit_width, std::string& out) {
    assert(bit_width >= 1 && bit_width <= 32);
    const std::size_t n = values.size();
    std::size_t literal_start = 0;
    std::size_t literal_count = 0;
    auto flush_literals = [&] {
        if (literal_count == 0)
            return;
        const std::size_t groups = (literal_count + 7) / 8;
        append_uleb128((groups << 1) | 1, out);
        pack(values.data() + literal_start, literal_count, groups * 8, bit_width, out);
        literal_count = 0;
    };
    std::size_t i = 0;
    while (i < n) {
        std::size_t run = 1;
        while (i + run < n && values[i + run] == values[i])
            ++run;
        // The literals must end on a multiple of 8 before an RLE run: the run lends them what they lack.
        const std::size_t lend = (8 - literal_count % 8) % 8;
        if (run >= 8 + lend) {
            if (literal_count == 0)
                literal_start = i;
            literal_count += lend;
            i += lend;
            run -= lend;
            flush_literals();
            append_uleb128(static_cast<std::uint64_t>(run) << 1, out);
            const auto value = static_cast<std::uint64_t>(values[i]);
            for (int byte = 0; byte < (bit_width + 7) / 8; ++byte)
                out.push_back(static_cast<char>((value >> (8 * byte)) & 0xFF));
            i += run;
            continue;
        }
        if (literal_count == 0)
            literal_start = i;
        literal_count += run;
        i += run;
    }
    flush_literals();
}

} // namespace

void append_rle_hybrid(std::span<const std::uint8_t> values, int bit_width, std::string& out) {
    encode(values, bit_width, out);
}

void append_rle_hybrid(std::span<const std::uint32_t> values, int bit_width, std::string& out) {
    encode(values, bit_width, out);
}

void append_bit_packed_bools(std::span<const std::uint8_t> values, std::string& out) {
    pack(values.data(), values.size(), values.size(), 1, out);
}

int dictionary_bit_width(std::size_t entries) {
    if (entries <= 2)
        return 1;
    return static_cast<int>(std::bit_width(entries - 1));
}

} // namespace pgexport::engine::detail::parquet
