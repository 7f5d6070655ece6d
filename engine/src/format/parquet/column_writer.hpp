#pragma once
// One column of the open row group: its values encoded into data pages as they come, and at the end of the
// row group its column chunk (the dictionary page, if any, then the data pages) with the footer's metadata
// of it. Pure.
//
// Pages are data pages v1 (DataPageHeader: the format every reader reads), definition levels RLE (max
// level 1 for a nullable column, none for a required one), values PLAIN or RLE_DICTIONARY. A page ends
// when it holds page_values values or its encoded levels and values reach page_bytes; it is then
// compressed and kept until the row group is flushed.
//
// Dictionary: every column but BOOLEAN starts each chunk dictionary-encoded. When the first page holds
// more distinct values than half its non-null values, at its dictionary_trial-th non-null value or at
// its end, the dictionary does not pay: it is dropped, and that page and the rest of the chunk are PLAIN. Later, when the dictionary would outgrow
// dictionary_bytes, the page in progress ends (dictionary-encoded), the dictionary is frozen and the rest
// of the chunk is PLAIN (the dictionary page still comes first). All of it depends only on the chunk's
// values, so a row group's bytes are the same whenever it is written.
//
// Statistics: null_count always; for FLOAT and DOUBLE nan_count, and min and max without NaN (none when
// every value is NaN), -0.0 as a zero min and +0.0 as a zero max; for byte arrays min and max unless a
// value is longer than statistics_bytes (then none: a truncated max would need rounding up).

#include "format/int128.hpp"
#include "format/parquet/dictionary.hpp"
#include "format/parquet/metadata.hpp"
#include "format/parquet/page_codec.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

struct page_limits {
    std::size_t page_bytes = 1 << 20;       // a data page's encoded levels and values, before compression
    std::size_t page_values = 20000;        // values in a data page, nulls included
    std::size_t dictionary_bytes = 1 << 20; // the dictionary page's body; 0: no dictionary encoding
    std::size_t statistics_bytes = 4096;    // the longest byte array min or max
};

// The bytes of DECIMAL(precision, ...)'s FIXED_LEN_BYTE_ARRAY when INT32 and INT64 are too small: the
// fewest that hold 10^precision - 1 in two's complement (precision 19..38 -> 9..16). INT32 holds precision
// 1..9 and INT64 10..18.
std::int32_t decimal_bytes(int precision);

// Non-null values of a chunk's first page after which the writer decides whether its dictionary pays.
inline constexpr std::size_t dictionary_trial = 1000;

class column_writer {
public:
    // `codec` must outlive the writer.
    column_writer(column_spec spec, const page_limits& limits, page_codec& codec);

    const column_spec& spec() const { return spec_; }

    // One value of the next row. Each but append_null() must match the column's physical type (else
    // std::logic_error): append_decimal() for a DECIMAL of any physical type (the unscaled value, which
    // must fit the precision), append_bytes() for BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY (of exactly
    // type_length bytes, else std::invalid_argument). append_null() on a REQUIRED column: logic_error.
    void append_null();
    void append_bool(bool value);
    void append_int32(std::int32_t value);
    void append_int64(std::int64_t value);
    void append_float(float value);
    void append_double(double value);
    void append_decimal(int128 unscaled);
    void append_bytes(std::string_view value);

    // Values appended since the last finish_chunk(), nulls included.
    std::int64_t values() const { return values_; }
    // Bytes held: the chunk's finished pages, the page in progress, the dictionary (not the codec's).
    std::size_t buffered_bytes() const;
    // The chunk's encoded bytes so far: its finished pages, the page in progress as estimated, the
    // dictionary page. Sizes, not capacities: the same for the same values whatever the writer did before,
    // so that a row group ended on it ends at the same row in a resumed export.
    std::size_t encoded_bytes() const;

    // Ends the chunk: appends its bytes to `out`, where they will start at file offset `offset`, and
    // answers what the footer says of them. The writer is then empty, ready for the next chunk.
    column_chunk_info finish_chunk(std::int64_t offset, std::string& out);

private:
    // A value of an INT32, INT64, FLOAT or DOUBLE column from its bits, PLAIN: little-endian.
    template <class Bits> void append_fixed(Bits bits);
    void append_value(std::string_view plain);
    void append_plain(std::string_view plain);
    bool first_page() const;
    bool poor_dictionary() const;
    void abandon_dictionary();
    void update_statistics(std::string_view plain);
    void end_value();
    std::size_t page_estimate() const;
    void close_page();
    // Compresses `body` and appends its header and bytes to `out`, counting its uncompressed size.
    void write_page(page_kind kind, std::string_view body, std::int32_t values, encoding values_encoding,
                    std::string& out);
    void reset_chunk();

    column_spec spec_;
    page_limits limits_;
    page_codec& codec_;
    sort_order order_;
    bool dictionary_allowed_;

    // The page in progress.
    std::vector<std::uint8_t> levels_;   // definition levels (nullable columns)
    std::string plain_;                  // PLAIN values
    std::vector<std::uint8_t> booleans_; // BOOLEAN values, bit-packed when the page ends
    std::vector<std::uint32_t> indices_; // dictionary indices
    std::size_t page_values_ = 0;
    std::size_t page_non_null_ = 0;

    // The chunk in progress.
    bool dictionary_mode_;
    value_dictionary dictionary_;
    std::string pages_; // finished data pages, headers included
    std::int64_t values_ = 0;
    std::int64_t uncompressed_ = 0;
    std::int32_t plain_pages_ = 0;
    std::int32_t dictionary_pages_ = 0;
    std::int64_t null_count_ = 0;
    std::int64_t nan_count_ = 0;
    bool has_min_max_ = false;
    bool statistics_dropped_ = false;
    std::string min_;
    std::string max_;
};

} // namespace pgexport::engine::detail::parquet
