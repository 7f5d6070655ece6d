#pragma once
// Parquet's metadata as the writer keeps it: the schema's columns, what a flushed row group's column
// chunks hold (offsets, sizes, page counts, statistics), and their Thrift form (parquet.thrift:
// FileMetaData, PageHeader). Pure.
//
// A flushed row group's row_group_info is all the footer needs of it: the writer keeps nothing else
// once a row group is flushed, and the JSON form below is what a checkpoint stores, so that a resumed
// writer (or the join of slices) writes the same footer as an uninterrupted one.

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

// parquet.thrift's Type (INT96 is never written).
enum class physical_type : std::uint8_t {
    boolean = 0,
    int32 = 1,
    int64 = 2,
    float32 = 4,
    float64 = 5,
    byte_array = 6,
    fixed_len_byte_array = 7,
};

// The logical types the writer annotates (LogicalTypes.md), each written with its legacy ConvertedType
// too where one exists, for readers that predate logical types.
enum class logical_type : std::uint8_t {
    none,      // bytea: BYTE_ARRAY without annotation
    string,    // STRING (UTF8)
    integer,   // INTEGER(int_bits, signed) (INT_16, INT_32, INT_64)
    decimal,   // DECIMAL(precision, scale) (DECIMAL)
    date,      // DATE (DATE)
    timestamp, // TIMESTAMP(MICROS, adjusted_to_utc) (TIMESTAMP_MICROS, also for local timestamps)
    uuid,      // UUID (no converted type)
    json,      // JSON (JSON)
};

// parquet.thrift's CompressionCodec, those the writer offers.
enum class codec : std::uint8_t { uncompressed = 0, snappy = 1, zstd = 6 };

// parquet.thrift's Encoding, those the writer uses: PLAIN values and dictionary pages, RLE levels,
// RLE_DICTIONARY indices.
enum class encoding : std::uint8_t { plain = 0, rle = 3, rle_dictionary = 8 };

// One column of the file (a leaf of a flat schema).
struct column_spec {
    std::string name;
    physical_type type = physical_type::byte_array;
    logical_type logical = logical_type::none;
    bool nullable = true;             // OPTIONAL (definition levels, max level 1) or REQUIRED
    std::int32_t type_length = 0;     // fixed_len_byte_array: the bytes of every value
    std::int8_t int_bits = 0;         // integer: 16, 32 or 64
    std::int32_t precision = 0;       // decimal
    std::int32_t scale = 0;           // decimal
    bool adjusted_to_utc = false;     // timestamp: timestamptz (true) or timestamp (false)
};

// How min_value and max_value order a column's values (parquet.thrift's ColumnOrder, TYPE_ORDER: by the
// logical type, else the physical one). `none` where the writer keeps no min and max.
enum class sort_order : std::uint8_t {
    none,
    boolean,        // false < true
    signed_integer, // INT32 and INT64, whatever the annotation (integers, decimals, dates, timestamps)
    floating,       // FLOAT and DOUBLE: NaN left out, -0 as min and +0 as max (parquet.thrift's rules)
    unsigned_bytes, // BYTE_ARRAY (strings, JSON, bytea) and the UUID's FIXED_LEN_BYTE_ARRAY
    signed_bytes,   // a DECIMAL's FIXED_LEN_BYTE_ARRAY: big-endian two's complement
};
sort_order order_of(const column_spec& column);

// A column chunk's statistics. min and max are PLAIN-encoded values (a byte array without its length).
struct chunk_statistics {
    std::int64_t null_count = 0;
    std::optional<std::int64_t> nan_count; // FLOAT and DOUBLE
    std::optional<std::string> min_value;
    std::optional<std::string> max_value;
};

// What the footer says of one column chunk. Offsets are from the start of the file.
struct column_chunk_info {
    std::int64_t values = 0;             // num_values: the column's values in the row group, nulls included
    std::int64_t uncompressed_bytes = 0; // total_uncompressed_size: pages and their headers
    std::int64_t compressed_bytes = 0;   // total_compressed_size: the chunk's bytes in the file
    std::int64_t data_page_offset = 0;   // the first data page
    std::optional<std::int64_t> dictionary_page_offset; // the dictionary page, the chunk's first, if any
    std::int32_t plain_pages = 0;       // data pages of PLAIN values
    std::int32_t dictionary_pages = 0;  // data pages of RLE_DICTIONARY indices
    chunk_statistics statistics;

    bool operator==(const column_chunk_info&) const = default;
};

struct row_group_info {
    std::int64_t rows = 0;
    std::int64_t offset = 0; // where its first column chunk starts
    std::vector<column_chunk_info> columns;

    std::int64_t bytes() const;              // its bytes in the file: the column chunks' compressed sizes
    std::int64_t uncompressed_bytes() const; // RowGroup.total_byte_size
    bool operator==(const row_group_info&) const = default;
};

// `group` moved by `delta` bytes in the file: every offset shifted.
row_group_info shifted(row_group_info group, std::int64_t delta);

// The checkpoint's form of a row group, and back. row_group_from_json answers nullopt unless `json` is an
// object of that form with `columns` column chunks (binary values as hex, offsets consistent).
boost::json::value to_json(const row_group_info& group);
std::optional<row_group_info> row_group_from_json(const boost::json::value& json, std::size_t columns);

// The Thrift bytes of FileMetaData (version 2, the schema under a root named "schema", the row groups, the
// column orders, `created_by`).
std::string file_metadata(std::span<const column_spec> schema, std::span<const row_group_info> row_groups,
                          codec compression, std::string_view created_by);

// A page's PageHeader, appended to `out`: a data page (v1, levels RLE) of `values` values (nulls
// included) in `values_encoding`, or a dictionary page of `values` PLAIN entries.
enum class page_kind : std::uint8_t { data = 0, dictionary = 2 };
void append_page_header(page_kind kind, std::int32_t values, encoding values_encoding,
                        std::int32_t uncompressed_size, std::int32_t compressed_size, std::string& out);

} // namespace pgexport::engine::detail::parquet
