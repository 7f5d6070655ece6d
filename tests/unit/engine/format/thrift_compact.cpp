// Thrift's compact protocol, the writing half, against bytes derived by hand from the specification (the
// comment of each case says how), never from the encoder.

#include "format/parquet/metadata.hpp"
#include "format/parquet/thrift_compact.hpp"

#include "parquet_read.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>

using namespace pgexport::engine::detail::parquet;
using pgexport::test::parquet_read::bytes;

BOOST_AUTO_TEST_SUITE(thrift_compact)

BOOST_AUTO_TEST_CASE(an_empty_struct_is_its_stop_byte) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.end_struct();
    BOOST_TEST(out == bytes({0x00}));
}

BOOST_AUTO_TEST_CASE(short_field_headers_hold_the_id_delta_and_the_type) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.field_i32(1, 2);     // delta 1, type i32 (5): 0x15; zigzag(2) = 4
    w.field_i32(2, -1);    // 0x15; zigzag(-1) = 1
    w.field_i64(5, 300);   // delta 3, type i64 (6): 0x36; zigzag(300) = 600 = 0x58 | 0x80, 600 >> 7 = 4
    w.field_binary(6, "ab"); // delta 1, binary (8): 0x18; length 2, then the bytes
    w.field_bool(7, true);  // delta 1, true (1): 0x11
    w.field_bool(8, false); // delta 1, false (2): 0x12
    w.field_i8(9, -3);      // delta 1, i8 (3): 0x13; the byte 0xFD
    w.field_i16(10, -64);   // delta 1, i16 (4): 0x14; zigzag(-64) = 127 = 0x7F
    w.end_struct();
    BOOST_TEST(out == bytes({0x15, 0x04, 0x15, 0x01, 0x36, 0xD8, 0x04, 0x18, 0x02, 'a', 'b', 0x11, 0x12, 0x13, 0xFD,
                             0x14, 0x7F, 0x00}));
}

BOOST_AUTO_TEST_CASE(long_field_headers_when_the_delta_is_over_15_or_not_positive) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.field_i32(20, 1); // delta 20: the type byte 0x05, the id as zigzag i16 (40 = 0x28), then zigzag(1) = 2
    w.field_i32(3, 0);  // delta -17: 0x05, zigzag(3) = 6, then 0
    w.field_i32(4, 0);  // delta 1 again: 0x15, 0
    w.end_struct();
    BOOST_TEST(out == bytes({0x05, 0x28, 0x02, 0x05, 0x06, 0x00, 0x15, 0x00, 0x00}));
}

BOOST_AUTO_TEST_CASE(varints_of_the_extremes) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    // zigzag(INT64_MIN) = 2^64 - 1: nine bytes of 0xFF then 0x01.
    w.field_i64(1, std::numeric_limits<std::int64_t>::min());
    // zigzag(INT64_MAX) = 2^64 - 2: 0xFE, eight 0xFF, 0x01.
    w.field_i64(2, std::numeric_limits<std::int64_t>::max());
    // zigzag(INT32_MIN) = 2^32 - 1: four 0xFF then 0x0F.
    w.field_i32(3, std::numeric_limits<std::int32_t>::min());
    w.end_struct();
    BOOST_TEST(out == bytes({0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                             0x16, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                             0x15, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00}));
}

BOOST_AUTO_TEST_CASE(lists_short_and_long) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.list_field(2, thrift_type::i32, 3); // delta 2, list (9): 0x29; size 3 and i32 (5): 0x35
    w.element_i32(1);                     // 2
    w.element_i32(-2);                    // 3
    w.element_i32(64);                    // 128: 0x80 0x01
    w.list_field(3, thrift_type::binary, 15); // 0x19; size 15 needs the long form: 0xF8, then varint 15
    for (int i = 0; i < 15; ++i)
        w.element_binary("");
    w.end_struct();
    std::string expected = bytes({0x29, 0x35, 0x02, 0x03, 0x80, 0x01, 0x19, 0xF8, 0x0F});
    expected.append(15, '\0');
    expected.push_back('\0');
    BOOST_TEST(out == expected);
}

BOOST_AUTO_TEST_CASE(nested_structs_count_their_ids_afresh) {
    std::string out;
    compact_writer w(out);
    w.begin_struct();
    w.field_i32(4, 1);        // 0x45 0x02
    w.begin_field_struct(5);  // delta 1, struct (12): 0x1C
    w.field_i32(1, 7);        // inside, from 0: 0x15 0x0E
    w.end_struct();           // 0x00
    w.field_i32(6, 0);        // the outer count goes on from 5: 0x15 0x00
    w.list_field(7, thrift_type::structure, 1); // 0x19, then 0x1C
    w.begin_struct();
    w.field_i32(2, 1); // 0x25 0x02
    w.end_struct();    // 0x00
    w.end_struct();
    BOOST_TEST(out == bytes({0x45, 0x02, 0x1C, 0x15, 0x0E, 0x00, 0x15, 0x00, 0x19, 0x1C, 0x25, 0x02, 0x00, 0x00}));
}

BOOST_AUTO_TEST_CASE(a_data_page_header) {
    // PageHeader {1: type DATA_PAGE (0), 2: uncompressed 100, 3: compressed 80, 5: DataPageHeader {1:
    // num_values 10, 2: encoding RLE_DICTIONARY (8), 3: RLE (3), 4: RLE (3)}}.
    std::string out;
    append_page_header(page_kind::data, 10, encoding::rle_dictionary, 100, 80, out);
    BOOST_TEST(out == bytes({0x15, 0x00,       // type 0
                             0x15, 0xC8, 0x01, // zigzag(100) = 200
                             0x15, 0xA0, 0x01, // zigzag(80) = 160
                             0x2C,             // delta 2, struct
                             0x15, 0x14, 0x15, 0x10, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00}));
}

BOOST_AUTO_TEST_CASE(a_dictionary_page_header) {
    // PageHeader {1: DICTIONARY_PAGE (2), 2: 7, 3: 7, 7: DictionaryPageHeader {1: num_values 3, 2: PLAIN}}.
    std::string out;
    append_page_header(page_kind::dictionary, 3, encoding::plain, 7, 7, out);
    BOOST_TEST(out == bytes({0x15, 0x04, 0x15, 0x0E, 0x15, 0x0E, 0x4C, 0x15, 0x06, 0x15, 0x00, 0x00, 0x00}));
}

BOOST_AUTO_TEST_SUITE_END()
