#include "format/parquet/pg_columns.hpp"

#include "format/parquet/column_writer.hpp"
#include "format/sql.hpp"

#include <charconv>
#include <stdexcept>

namespace pgexport::engine::detail::parquet {

namespace {

// "name(…)" or "name(…) rest" -> "name rest"; the part in parentheses into `typmod`.
std::string without_typmod(std::string_view type, std::string_view& typmod) {
    const auto open = type.find('(');
    const auto close = type.find(')', open);
    if (open == std::string_view::npos || close == std::string_view::npos) {
        typmod = {};
        return std::string(type);
    }
    typmod = type.substr(open + 1, close - open - 1);
    return std::string(type.substr(0, open)) + std::string(type.substr(close + 1));
}

bool parse_int(std::string_view text, int& value) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

} // namespace

pg_column_plan plan_pg_column(std::string_view name, std::string_view type, bool is_enum, bool nullable) {
    pg_column_plan plan;
    plan.parquet.name = std::string(name);
    plan.parquet.nullable = nullable;
    column_spec& c = plan.parquet;
    auto as = [&](pg_binary_kind kind, physical_type physical, logical_type logical) {
        plan.binary.kind = kind;
        c.type = physical;
        c.logical = logical;
    };
    std::string_view typmod;
    const std::string base = without_typmod(type, typmod);
    if (is_enum || base == "text" || base == "character varying" || base == "character" || base == "bpchar") {
        as(pg_binary_kind::bytes, physical_type::byte_array, logical_type::string);
    } else if (base == "smallint" || base == "integer") {
        as(base == "smallint" ? pg_binary_kind::int2 : pg_binary_kind::int4, physical_type::int32,
           logical_type::integer);
        c.int_bits = base == "smallint" ? 16 : 32;
    } else if (base == "bigint") {
        as(pg_binary_kind::int8, physical_type::int64, logical_type::integer);
        c.int_bits = 64;
    } else if (base == "real") {
        as(pg_binary_kind::float4, physical_type::float32, logical_type::none);
    } else if (base == "double precision") {
        as(pg_binary_kind::float8, physical_type::float64, logical_type::none);
    } else if (base == "boolean") {
        as(pg_binary_kind::boolean, physical_type::boolean, logical_type::none);
    } else if (base == "date") {
        as(pg_binary_kind::date, physical_type::int32, logical_type::date);
    } else if (base == "timestamp without time zone" || base == "timestamp with time zone") {
        as(pg_binary_kind::timestamp, physical_type::int64, logical_type::timestamp);
        c.adjusted_to_utc = base == "timestamp with time zone";
    } else if (base == "uuid") {
        as(pg_binary_kind::uuid, physical_type::fixed_len_byte_array, logical_type::uuid);
        c.type_length = 16;
    } else if (base == "json") {
        as(pg_binary_kind::bytes, physical_type::byte_array, logical_type::json);
    } else if (base == "jsonb") {
        as(pg_binary_kind::jsonb, physical_type::byte_array, logical_type::json);
    } else if (base == "bytea") {
        as(pg_binary_kind::bytes, physical_type::byte_array, logical_type::none);
    } else {
        int precision = 0;
        int scale = 0;
        const auto comma = typmod.find(',');
        const bool decimal = base == "numeric" && comma != std::string_view::npos &&
                             parse_int(typmod.substr(0, comma), precision) &&
                             parse_int(typmod.substr(comma + 1), scale) && precision >= 1 && precision <= 38 &&
                             scale >= 0 && scale <= precision;
        if (decimal) {
            as(pg_binary_kind::numeric, physical_type::fixed_len_byte_array, logical_type::decimal);
            plan.binary.precision = c.precision = precision;
            plan.binary.scale = c.scale = scale;
            if (precision <= 9) {
                c.type = physical_type::int32;
            } else if (precision <= 18) {
                c.type = physical_type::int64;
            } else {
                c.type_length = decimal_bytes(precision);
            }
        } else {
            as(pg_binary_kind::bytes, physical_type::byte_array, logical_type::string);
            plan.as_text = true;
        }
    }
    return plan;
}

std::vector<pg_column_plan> plan_export_columns(const table_schema& schema, const export_request& request) {
    std::vector<pg_column_plan> plans;
    for (const auto& name : output_columns(schema, request)) {
        const column_info* column = schema.find(name);
        if (!column)
            throw std::logic_error("plan_export_columns: unchecked column " + name);
        const std::string& type = column->full_type.empty() ? column->type : column->full_type;
        plans.push_back(plan_pg_column(column->name, type, column->is_enum, column->nullable));
    }
    return plans;
}

pg_binary_column key_binary_column(const table_schema& schema) {
    const column_info* key = schema.find(schema.key);
    if (!key)
        throw std::logic_error("key_binary_column: the table has no column " + schema.key);
    pg_binary_column column;
    column.kind = key->type == "smallint"  ? pg_binary_kind::int2
                  : key->type == "integer" ? pg_binary_kind::int4
                                           : pg_binary_kind::int8;
    return column;
}

codec codec_of(parquet_compression compression) {
    switch (compression) {
    case parquet_compression::snappy:
        return codec::snappy;
    case parquet_compression::none:
        return codec::uncompressed;
    case parquet_compression::zstd:
        break;
    }
    return codec::zstd;
}

void append_row(writer& out, std::span<const pg_field> fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        column_writer& column = out.column(i);
        const pg_field& f = fields[i];
        switch (f.type) {
        case pg_field::tag::null:
            column.append_null();
            break;
        case pg_field::tag::i32:
            column.append_int32(f.i32);
            break;
        case pg_field::tag::i64:
            column.append_int64(f.i64);
            break;
        case pg_field::tag::f32:
            column.append_float(f.f32);
            break;
        case pg_field::tag::f64:
            column.append_double(f.f64);
            break;
        case pg_field::tag::boolean:
            column.append_bool(f.boolean);
            break;
        case pg_field::tag::i128:
            column.append_decimal(f.i128);
            break;
        case pg_field::tag::bytes:
            column.append_bytes(f.bytes);
            break;
        }
    }
    out.end_row();
}

} // namespace pgexport::engine::detail::parquet
