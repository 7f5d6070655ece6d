#pragma once
// Thrift's compact protocol, the writing half and only what Parquet's metadata needs (structs, lists,
// integers, booleans, binary). Pure: bytes are appended to a string the caller owns.
//
// The encoding (Apache Thrift's compact protocol specification):
// - a field starts with a byte: the difference to the previous field id of the same struct in the high
//   nibble (1..15) and the type in the low one; a larger difference (or a smaller id) is the type byte alone
//   followed by the id as a zigzag varint;
// - a boolean field has no value: its type nibble is 1 (true) or 2 (false);
// - i16, i32 and i64 are zigzag ULEB-128 varints, i8 a byte, binary a varint length and the bytes;
// - a list starts with a byte: its size (0..14) in the high nibble and the element type in the low one, or
//   0xF then the size as a varint;
// - a struct ends with a stop byte 0; the field id count restarts at 0 in each nested struct.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

// The compact protocol's type codes.
enum class thrift_type : std::uint8_t {
    boolean_true = 1,
    boolean_false = 2,
    i8 = 3,
    i16 = 4,
    i32 = 5,
    i64 = 6,
    f64 = 7,
    binary = 8,
    list = 9,
    set = 10,
    map = 11,
    structure = 12,
};

// Writes one struct (and what it holds) into `out`: begin_struct(), fields, end_struct(). Field ids must
// be positive. Lists: list_field() then exactly `size` elements written with the element functions (for
// struct elements, begin_struct() ... end_struct() each). The writer does not check that the calls match
// the schema: that is the caller's part, tested against known bytes.
class compact_writer {
public:
    explicit compact_writer(std::string& out) : out_(out) {}

    // Starts a struct: the top-level one, or a list element. begin_field_struct() starts one as a field.
    void begin_struct();
    void begin_field_struct(std::int16_t id);
    // Ends the innermost open struct with the stop byte.
    void end_struct();

    void field_bool(std::int16_t id, bool value);
    void field_i8(std::int16_t id, std::int8_t value);
    void field_i16(std::int16_t id, std::int16_t value);
    void field_i32(std::int16_t id, std::int32_t value);
    void field_i64(std::int16_t id, std::int64_t value);
    void field_binary(std::int16_t id, std::string_view value);
    void list_field(std::int16_t id, thrift_type element, std::size_t size);

    // List elements.
    void element_i32(std::int32_t value);
    void element_i64(std::int64_t value);
    void element_binary(std::string_view value);

private:
    void field_header(std::int16_t id, thrift_type type);
    void varint(std::uint64_t value);
    void zigzag(std::int64_t value);

    std::string& out_;
    std::vector<std::int16_t> last_ids_; // the previous field id of each open struct
};

} // namespace pgexport::engine::detail::parquet
