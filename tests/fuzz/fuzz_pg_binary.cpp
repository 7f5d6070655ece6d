// Fuzz target: the binary COPY decoder (format/pg_binary) on any bytes, cut into any pieces. It must never
// read outside what it was fed (AddressSanitizer watches: each piece lives in a buffer of its own, freed
// once the decoder has asked for the next), never hand out a field that is not of its column's kind, and
// stop for good at an error or the trailer.
//
// Input: byte 0: bits 0-2 the column count less one, bit 7 "prepend a valid header" (so that mutations
// reach the tuples); then two bytes a column (its kind modulo 12 and a numeric's scale in the rest; a
// numeric's precision less one modulo 38); then a byte seeding the cuts; then the stream.

#include "format/pg_binary.hpp"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace pgexport::engine::detail;

namespace {

// The field tag each kind may produce, besides null.
pg_field::tag tag_of(pg_binary_kind kind) {
    switch (kind) {
    case pg_binary_kind::int2:
    case pg_binary_kind::int4:
    case pg_binary_kind::date:
        return pg_field::tag::i32;
    case pg_binary_kind::int8:
    case pg_binary_kind::timestamp:
        return pg_field::tag::i64;
    case pg_binary_kind::float4:
        return pg_field::tag::f32;
    case pg_binary_kind::float8:
        return pg_field::tag::f64;
    case pg_binary_kind::boolean:
        return pg_field::tag::boolean;
    case pg_binary_kind::numeric:
        return pg_field::tag::i128;
    case pg_binary_kind::uuid:
    case pg_binary_kind::bytes:
    case pg_binary_kind::jsonb:
        return pg_field::tag::bytes;
    }
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const std::size_t count = 1 + (data[0] & 7);
    const bool header = (data[0] & 0x80) != 0;
    if (size < 2 + 2 * count)
        return 0;
    std::vector<pg_binary_column> columns;
    for (std::size_t i = 0; i < count; ++i) {
        pg_binary_column c;
        c.kind = static_cast<pg_binary_kind>(data[1 + 2 * i] % 12);
        c.precision = 1 + data[2 + 2 * i] % 38;
        c.scale = (data[1 + 2 * i] / 12) % (c.precision + 1);
        columns.push_back(c);
    }
    std::mt19937 cuts(data[1 + 2 * count]);
    std::string stream;
    if (header)
        stream.assign("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    stream.append(reinterpret_cast<const char*>(data) + 2 + 2 * count, size - 2 - 2 * count);

    pg_binary_decoder decoder(columns);
    std::size_t at = 0;
    std::uint64_t rows = 0;
    bool stopped = false;
    while (at < stream.size() && !stopped) {
        const std::size_t length = std::min<std::size_t>(stream.size() - at, 1 + cuts() % 64);
        // A heap buffer of exactly the piece: reading past it, or keeping a view of it after asking for
        // more, is an AddressSanitizer error.
        auto piece = std::make_unique<char[]>(length);
        std::copy(stream.begin() + static_cast<std::ptrdiff_t>(at), stream.begin() + static_cast<std::ptrdiff_t>(at + length),
                  piece.get());
        at += length;
        decoder.feed({piece.get(), length});
        for (;;) {
            const auto status = decoder.next();
            if (status == pg_binary_status::row) {
                ++rows;
                if (decoder.fields().size() != count)
                    std::abort();
                unsigned sum = 0;
                for (std::size_t i = 0; i < count; ++i) {
                    const pg_field& f = decoder.fields()[i];
                    if (f.type != pg_field::tag::null && f.type != tag_of(columns[i].kind))
                        std::abort();
                    for (const char ch : f.bytes) // touches every byte a field views
                        sum += static_cast<unsigned char>(ch);
                    if (columns[i].kind == pg_binary_kind::uuid && f.type != pg_field::tag::null && f.bytes.size() != 16)
                        std::abort();
                }
                (void)sum;
                continue;
            }
            if (status == pg_binary_status::error || status == pg_binary_status::end) {
                // Final: asking again answers the same (end turns into an error if bytes follow).
                if (status == pg_binary_status::error && decoder.next() != pg_binary_status::error)
                    std::abort();
                stopped = status == pg_binary_status::error;
            }
            break;
        }
    }
    if (decoder.rows() != rows)
        std::abort();
    return 0;
}
