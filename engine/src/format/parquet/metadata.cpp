#include "format/parquet/metadata.hpp"

#include "format/parquet/thrift_compact.hpp"
#include <pgexport/shared/hmac.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <numeric>

namespace pgexport::engine::detail::parquet {

namespace {

// parquet.thrift's ConvertedType values the writer uses.
enum class converted_type : std::int32_t {
    utf8 = 0,
    decimal = 5,
    date = 6,
    timestamp_micros = 10,
    int_16 = 16,
    int_32 = 17,
    int_64 = 18,
    json = 19,
};

std::optional<converted_type> converted_type_of(const column_spec& column) {
    switch (column.logical) {
    case logical_type::string:
        return converted_type::utf8;
    case logical_type::integer:
        return column.int_bits == 16   ? converted_type::int_16
               : column.int_bits == 32 ? converted_type::int_32
                                       : converted_type::int_64;
    case logical_type::decimal:
        return converted_type::decimal;
    case logical_type::date:
        return converted_type::date;
    case logical_type::timestamp:
        // LogicalTypes.md: local timestamps too ("writers must annotate local timestamps with legacy
        // annotations too").
        return converted_type::timestamp_micros;
    case logical_type::json:
        return converted_type::json;
    case logical_type::none:
    case logical_type::uuid:
        return std::nullopt;
    }
    return std::nullopt;
}

// LogicalType, a union: one field holding the annotation's struct.
void write_logical_type(compact_writer& w, const column_spec& column) {
    switch (column.logical) {
    case logical_type::none:
        return;
    case logical_type::string:
        w.begin_field_struct(10);
        w.begin_field_struct(1); // STRING: StringType {}
        w.end_struct();
        break;
    case logical_type::decimal:
        w.begin_field_struct(10);
        w.begin_field_struct(5); // DECIMAL: DecimalType {scale, precision}
        w.field_i32(1, column.scale);
        w.field_i32(2, column.precision);
        w.end_struct();
        break;
    case logical_type::date:
        w.begin_field_struct(10);
        w.begin_field_struct(6); // DATE: DateType {}
        w.end_struct();
        break;
    case logical_type::timestamp:
        w.begin_field_struct(10);
        w.begin_field_struct(8); // TIMESTAMP: TimestampType {isAdjustedToUTC, unit}
        w.field_bool(1, column.adjusted_to_utc);
        w.begin_field_struct(2); // TimeUnit, a union: MICROS (2): MicroSeconds {}
        w.begin_field_struct(2);
        w.end_struct();
        w.end_struct();
        w.end_struct();
        break;
    case logical_type::integer:
        w.begin_field_struct(10);
        w.begin_field_struct(10); // INTEGER: IntType {bitWidth, isSigned}
        w.field_i8(1, column.int_bits);
        w.field_bool(2, true);
        w.end_struct();
        break;
    case logical_type::json:
        w.begin_field_struct(10);
        w.begin_field_struct(12); // JSON: JsonType {}
        w.end_struct();
        break;
    case logical_type::uuid:
        w.begin_field_struct(10);
        w.begin_field_struct(14); // UUID: UUIDType {}
        w.end_struct();
        break;
    }
    w.end_struct();
}

void write_schema_element(compact_writer& w, const column_spec& column) {
    w.begin_struct();
    w.field_i32(1, static_cast<std::int32_t>(column.type));
    if (column.type == physical_type::fixed_len_byte_array)
        w.field_i32(2, column.type_length);
    w.field_i32(3, column.nullable ? 1 : 0); // OPTIONAL : REQUIRED
    w.field_binary(4, column.name);
    if (auto converted = converted_type_of(column))
        w.field_i32(6, static_cast<std::int32_t>(*converted));
    if (column.logical == logical_type::decimal) {
        w.field_i32(7, column.scale);
        w.field_i32(8, column.precision);
    }
    write_logical_type(w, column);
    w.end_struct();
}

void write_statistics(compact_writer& w, const chunk_statistics& stats) {
    w.begin_field_struct(12);
    w.field_i64(3, stats.null_count);
    if (stats.max_value)
        w.field_binary(5, *stats.max_value);
    if (stats.min_value)
        w.field_binary(6, *stats.min_value);
    if (stats.nan_count)
        w.field_i64(9, *stats.nan_count);
    w.end_struct();
}

void write_column_chunk(compact_writer& w, const column_spec& column, const column_chunk_info& chunk,
                        codec compression) {
    w.begin_struct();
    w.field_i64(2, 0); // file_offset: deprecated, 0 when no ColumnMetaData is written outside the footer
    w.begin_field_struct(3);
    w.field_i32(1, static_cast<std::int32_t>(column.type));
    const bool plain = chunk.dictionary_page_offset || chunk.plain_pages > 0;
    const bool dictionary = chunk.dictionary_pages > 0;
    w.list_field(2, thrift_type::i32, 1 + (plain ? 1 : 0) + (dictionary ? 1 : 0));
    if (plain)
        w.element_i32(static_cast<std::int32_t>(encoding::plain));
    w.element_i32(static_cast<std::int32_t>(encoding::rle)); // the levels' (named by every data page)
    if (dictionary)
        w.element_i32(static_cast<std::int32_t>(encoding::rle_dictionary));
    w.list_field(3, thrift_type::binary, 1);
    w.element_binary(column.name);
    w.field_i32(4, static_cast<std::int32_t>(compression));
    w.field_i64(5, chunk.values);
    w.field_i64(6, chunk.uncompressed_bytes);
    w.field_i64(7, chunk.compressed_bytes);
    w.field_i64(9, chunk.data_page_offset);
    if (chunk.dictionary_page_offset)
        w.field_i64(11, *chunk.dictionary_page_offset);
    write_statistics(w, chunk.statistics);
    // encoding_stats: which pages are which, so readers can tell every data page is dictionary-encoded.
    struct page_count {
        page_kind kind;
        encoding values;
        std::int32_t count;
    };
    const page_count counts[] = {{page_kind::dictionary, encoding::plain, chunk.dictionary_page_offset ? 1 : 0},
                                 {page_kind::data, encoding::plain, chunk.plain_pages},
                                 {page_kind::data, encoding::rle_dictionary, chunk.dictionary_pages}};
    std::size_t listed = 0;
    for (const auto& c : counts)
        listed += c.count > 0 ? 1 : 0;
    w.list_field(13, thrift_type::structure, listed);
    for (const auto& c : counts) {
        if (c.count == 0)
            continue;
        w.begin_struct();
        w.field_i32(1, static_cast<std::int32_t>(c.kind));
        w.field_i32(2, static_cast<std::int32_t>(c.values));
        w.field_i32(3, c.count);
        w.end_struct();
    }
    w.end_struct();
    w.end_struct();
}

std::optional<std::string> bytes_from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0)
        return std::nullopt;
    std::string bytes;
    bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned byte = 0;
        const char* end = hex.data() + i + 2;
        if (auto [stop, error] = std::from_chars(hex.data() + i, end, byte, 16); error != std::errc{} || stop != end)
            return std::nullopt;
        bytes.push_back(static_cast<char>(byte));
    }
    return bytes;
}

std::string hex_of(std::string_view bytes) {
    return to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
}

} // namespace

sort_order order_of(const column_spec& column) {
    switch (column.type) {
    case physical_type::boolean:
        return sort_order::boolean;
    case physical_type::int32:
    case physical_type::int64:
        return sort_order::signed_integer;
    case physical_type::float32:
    case physical_type::float64:
        return sort_order::floating;
    case physical_type::byte_array:
        return sort_order::unsigned_bytes;
    case physical_type::fixed_len_byte_array:
        return column.logical == logical_type::decimal ? sort_order::signed_bytes : sort_order::unsigned_bytes;
    }
    return sort_order::none;
}

std::int64_t row_group_info::bytes() const {
    return std::accumulate(columns.begin(), columns.end(), std::int64_t{0},
                           [](std::int64_t sum, const column_chunk_info& c) { return sum + c.compressed_bytes; });
}

std::int64_t row_group_info::uncompressed_bytes() const {
    return std::accumulate(columns.begin(), columns.end(), std::int64_t{0},
                           [](std::int64_t sum, const column_chunk_info& c) { return sum + c.uncompressed_bytes; });
}

row_group_info shifted(row_group_info group, std::int64_t delta) {
    group.offset += delta;
    for (auto& column : group.columns) {
        column.data_page_offset += delta;
        if (column.dictionary_page_offset)
            *column.dictionary_page_offset += delta;
    }
    return group;
}

boost::json::value to_json(const row_group_info& group) {
    boost::json::array columns;
    for (const auto& c : group.columns) {
        boost::json::object o{{"values", c.values},
                              {"uncompressed", c.uncompressed_bytes},
                              {"compressed", c.compressed_bytes},
                              {"data", c.data_page_offset},
                              {"plainPages", c.plain_pages},
                              {"dictionaryPages", c.dictionary_pages},
                              {"nulls", c.statistics.null_count}};
        if (c.dictionary_page_offset)
            o["dictionary"] = *c.dictionary_page_offset;
        if (c.statistics.nan_count)
            o["nans"] = *c.statistics.nan_count;
        if (c.statistics.min_value)
            o["min"] = hex_of(*c.statistics.min_value);
        if (c.statistics.max_value)
            o["max"] = hex_of(*c.statistics.max_value);
        columns.push_back(std::move(o));
    }
    return boost::json::object{{"rows", group.rows}, {"offset", group.offset}, {"columns", std::move(columns)}};
}

std::optional<row_group_info> row_group_from_json(const boost::json::value& json, std::size_t columns) {
    const auto* o = json.if_object();
    if (!o)
        return std::nullopt;
    auto integer = [](const boost::json::object& from, std::string_view key) -> std::optional<std::int64_t> {
        const auto* v = from.if_contains(key);
        if (!v || !v->is_int64() || v->get_int64() < 0)
            return std::nullopt;
        return v->get_int64();
    };
    auto bytes = [](const boost::json::object& from, std::string_view key, std::optional<std::string>& to) {
        const auto* v = from.if_contains(key);
        if (!v)
            return true;
        if (!v->is_string())
            return false;
        to = bytes_from_hex(v->get_string());
        return to.has_value();
    };
    row_group_info group;
    const auto rows = integer(*o, "rows");
    const auto offset = integer(*o, "offset");
    const auto* list = o->if_contains("columns");
    if (!rows || !offset || !list || !list->is_array() || list->get_array().size() != columns)
        return std::nullopt;
    group.rows = *rows;
    group.offset = *offset;
    for (const auto& item : list->get_array()) {
        const auto* c = item.if_object();
        if (!c)
            return std::nullopt;
        column_chunk_info chunk;
        const auto values = integer(*c, "values");
        const auto uncompressed = integer(*c, "uncompressed");
        const auto compressed = integer(*c, "compressed");
        const auto data = integer(*c, "data");
        const auto plain_pages = integer(*c, "plainPages");
        const auto dictionary_pages = integer(*c, "dictionaryPages");
        const auto nulls = integer(*c, "nulls");
        if (!values || !uncompressed || !compressed || !data || !plain_pages || !dictionary_pages || !nulls ||
            *plain_pages > INT32_MAX || *dictionary_pages > INT32_MAX || *data < group.offset)
            return std::nullopt;
        chunk.values = *values;
        chunk.uncompressed_bytes = *uncompressed;
        chunk.compressed_bytes = *compressed;
        chunk.data_page_offset = *data;
        chunk.plain_pages = static_cast<std::int32_t>(*plain_pages);
        chunk.dictionary_pages = static_cast<std::int32_t>(*dictionary_pages);
        chunk.statistics.null_count = *nulls;
        if (c->contains("dictionary")) {
            chunk.dictionary_page_offset = integer(*c, "dictionary");
            if (!chunk.dictionary_page_offset)
                return std::nullopt;
        }
        if (c->contains("nans")) {
            chunk.statistics.nan_count = integer(*c, "nans");
            if (!chunk.statistics.nan_count)
                return std::nullopt;
        }
        if (!bytes(*c, "min", chunk.statistics.min_value) || !bytes(*c, "max", chunk.statistics.max_value))
            return std::nullopt;
        group.columns.push_back(std::move(chunk));
    }
    return group;
}

std::string file_metadata(std::span<const column_spec> schema, std::span<const row_group_info> row_groups,
                          codec compression, std::string_view created_by) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.field_i32(1, 2); // version
    w.list_field(2, thrift_type::structure, schema.size() + 1);
    w.begin_struct(); // the root: a group of every column
    w.field_binary(4, "schema");
    w.field_i32(5, static_cast<std::int32_t>(schema.size()));
    w.end_struct();
    for (const auto& column : schema)
        write_schema_element(w, column);
    std::int64_t rows = 0;
    for (const auto& group : row_groups)
        rows += group.rows;
    w.field_i64(3, rows);
    w.list_field(4, thrift_type::structure, row_groups.size());
    for (const auto& group : row_groups) {
        w.begin_struct();
        w.list_field(1, thrift_type::structure, group.columns.size());
        for (std::size_t i = 0; i < group.columns.size(); ++i)
            write_column_chunk(w, schema[i], group.columns[i], compression);
        w.field_i64(2, group.uncompressed_bytes());
        w.field_i64(3, group.rows);
        w.field_i64(5, group.offset);
        w.field_i64(6, group.bytes());
        w.end_struct();
    }
    w.field_binary(6, created_by);
    // Every column's min and max follow its type's order (TYPE_ORDER, an empty struct in a union).
    w.list_field(7, thrift_type::structure, schema.size());
    for (std::size_t i = 0; i < schema.size(); ++i) {
        w.begin_struct();
        w.begin_field_struct(1);
        w.end_struct();
        w.end_struct();
    }
    w.end_struct();
    return out;
}

void append_page_header(page_kind kind, std::int32_t values, encoding values_encoding,
                        std::int32_t uncompressed_size, std::int32_t compressed_size, std::string& out) {
    compact_writer w(out);
    w.begin_struct();
    w.field_i32(1, static_cast<std::int32_t>(kind));
    w.field_i32(2, uncompressed_size);
    w.field_i32(3, compressed_size);
    if (kind == page_kind::data) {
        w.begin_field_struct(5); // DataPageHeader
        w.field_i32(1, values);
        w.field_i32(2, static_cast<std::int32_t>(values_encoding));
        w.field_i32(3, static_cast<std::int32_t>(encoding::rle)); // definition levels
        w.field_i32(4, static_cast<std::int32_t>(encoding::rle)); // repetition levels (none: flat schema)
        w.end_struct();
    } else {
        w.begin_field_struct(7); // DictionaryPageHeader
        w.field_i32(1, values);
        w.field_i32(2, static_cast<std::int32_t>(encoding::plain));
        w.end_struct();
    }
    w.end_struct();
}

} // namespace pgexport::engine::detail::parquet
