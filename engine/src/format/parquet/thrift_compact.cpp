#include "format/parquet/thrift_compact.hpp"

#include "format/parquet/varint.hpp"

#include <cassert>

namespace pgexport::engine::detail::parquet {

void compact_writer::varint(std::uint64_t value) {
    append_uleb128(value, out_);
}

void compact_writer::zigzag(std::int64_t value) {
    varint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
}

void compact_writer::field_header(std::int16_t id, thrift_type type) {
    assert(!last_ids_.empty() && id > 0);
    const int delta = id - last_ids_.back();
    if (delta > 0 && delta <= 15) {
        out_.push_back(static_cast<char>((delta << 4) | static_cast<int>(type)));
    } else {
        out_.push_back(static_cast<char>(type));
        zigzag(id);
    }
    last_ids_.back() = id;
}

void compact_writer::begin_struct() {
    last_ids_.push_back(0);
}

void compact_writer::begin_field_struct(std::int16_t id) {
    field_header(id, thrift_type::structure);
    begin_struct();
}

void compact_writer::end_struct() {
    assert(!last_ids_.empty());
    out_.push_back('\0');
    last_ids_.pop_back();
}

void compact_writer::field_bool(std::int16_t id, bool value) {
    field_header(id, value ? thrift_type::boolean_true : thrift_type::boolean_false);
}

void compact_writer::field_i8(std::int16_t id, std::int8_t value) {
    field_header(id, thrift_type::i8);
    out_.push_back(static_cast<char>(value));
}

void compact_writer::field_i16(std::int16_t id, std::int16_t value) {
    field_header(id, thrift_type::i16);
    zigzag(value);
}

void compact_writer::field_i32(std::int16_t id, std::int32_t value) {
    field_header(id, thrift_type::i32);
    zigzag(value);
}

void compact_writer::field_i64(std::int16_t id, std::int64_t value) {
    field_header(id, thrift_type::i64);
    zigzag(value);
}

void compact_writer::field_binary(std::int16_t id, std::string_view value) {
    field_header(id, thrift_type::binary);
    element_binary(value);
}

void compact_writer::list_field(std::int16_t id, thrift_type element, std::size_t size) {
    field_header(id, thrift_type::list);
    if (size < 15) {
        out_.push_back(static_cast<char>((size << 4) | static_cast<std::size_t>(element)));
    } else {
        out_.push_back(static_cast<char>(0xF0 | static_cast<int>(element)));
        varint(size);
    }
}

void compact_writer::element_i32(std::int32_t value) {
    zigzag(value);
}

void compact_writer::element_i64(std::int64_t value) {
    zigzag(value);
}

void compact_writer::element_binary(std::string_view value) {
    varint(value.size());
    out_.append(value);
}

} // namespace pgexport::engine::detail::parquet
