// The RLE/bit-packed hybrid encoding of levels and dictionary indices: known bytes derived from
// Encodings.md by hand, and random sequences decoded back by the test support's decoder.

#include "format/parquet/rle_hybrid.hpp"

#include "parquet_read.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

using namespace pgexport::engine::detail::parquet;
using pgexport::test::parquet_read::bytes;

namespace {

std::string encode(const std::vector<std::uint32_t>& values, int width) {
    std::string out;
    append_rle_hybrid(values, width, out);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(rle_hybrid)

BOOST_AUTO_TEST_CASE(the_specifications_bit_packing_example) {
    // Encodings.md: 0..7 in 3 bits pack to 10001000 11000110 11111010; one group: header (1 << 1) | 1.
    BOOST_TEST(encode({0, 1, 2, 3, 4, 5, 6, 7}, 3) == bytes({0x03, 0x88, 0xC6, 0xFA}));
}

BOOST_AUTO_TEST_CASE(eight_equal_values_or_more_are_a_run) {
    // 10 ones in 1 bit: header 10 << 1 = 0x14, the value in one byte.
    BOOST_TEST(encode(std::vector<std::uint32_t>(10, 1), 1) == bytes({0x14, 0x01}));
    // 1000 zeros: header 2000 as a varint: 0xD0 0x0F.
    BOOST_TEST(encode(std::vector<std::uint32_t>(1000, 0), 1) == bytes({0xD0, 0x0F, 0x00}));
    // 8 times 300 in 9 bits: the value in two little-endian bytes.
    BOOST_TEST(encode(std::vector<std::uint32_t>(8, 300), 9) == bytes({0x10, 0x2C, 0x01}));
    // 7 equal values are not a run: one bit-packed group, padded with a zero.
    BOOST_TEST(encode(std::vector<std::uint32_t>(7, 1), 1) == bytes({0x03, 0x7F}));
}

BOOST_AUTO_TEST_CASE(a_short_tail_is_padded) {
    // 1, 0, 1 in 1 bit: bits 1 | 0 << 1 | 1 << 2 = 0x05, in one group.
    BOOST_TEST(encode({1, 0, 1}, 1) == bytes({0x03, 0x05}));
}

BOOST_AUTO_TEST_CASE(literals_borrow_from_a_run_to_end_on_a_multiple_of_eight) {
    // 1, 0 then 20 ones: the literals take 6 of the ones (1,0,1,1,1,1,1,1 = 0xFD), then a run of 14.
    std::vector<std::uint32_t> values{1, 0};
    values.insert(values.end(), 20, 1);
    BOOST_TEST(encode(values, 1) == bytes({0x03, 0xFD, 0x1C, 0x01}));
    // 1, 0 then 13 ones: after lending 6, 7 are left, too few for a run: all literals, two groups.
    values = {1, 0};
    values.insert(values.end(), 13, 1);
    BOOST_TEST(encode(values, 1) == bytes({0x05, 0xFD, 0x7F}));
}

BOOST_AUTO_TEST_CASE(levels_as_bytes_encode_like_indices) {
    const std::vector<std::uint8_t> levels{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    std::string out;
    append_rle_hybrid(levels, 1, out);
    // 11 values: 1 x 9 is a run (header 18), then 0, 1 as one padded group (0b10 = 0x02).
    BOOST_TEST(out == bytes({0x12, 0x01, 0x03, 0x02}));
}

BOOST_AUTO_TEST_CASE(random_sequences_decode_back) {
    std::mt19937 random(28);
    for (int round = 0; round < 400; ++round) {
        const int width = 1 + static_cast<int>(random() % 32);
        const std::size_t count = random() % 300;
        const std::uint64_t range = width == 32 ? 0x100000000ULL : (std::uint64_t{1} << width);
        std::vector<std::uint32_t> values;
        while (values.size() < count) {
            // Runs of random lengths, so both kinds of run and every lending case occur.
            const auto value = static_cast<std::uint32_t>(random() % range);
            const std::size_t run = random() % 3 == 0 ? random() % 20 : 1;
            for (std::size_t i = 0; i <= run && values.size() < count; ++i)
                values.push_back(value);
        }
        BOOST_TEST_CONTEXT("round " << round << ", width " << width << ", " << count << " values") {
            const std::string out = encode(values, width);
            BOOST_TEST(pgexport::test::parquet_read::decode_rle_hybrid(out, width, count) == values);
        }
    }
}

BOOST_AUTO_TEST_CASE(booleans_bit_packed) {
    std::string out;
    append_bit_packed_bools(std::vector<std::uint8_t>{1, 0, 1, 1, 0, 0, 0, 0, 1}, out);
    BOOST_TEST(out == bytes({0x0D, 0x01}));
}

BOOST_AUTO_TEST_CASE(dictionary_widths) {
    BOOST_TEST(dictionary_bit_width(1) == 1);
    BOOST_TEST(dictionary_bit_width(2) == 1);
    BOOST_TEST(dictionary_bit_width(3) == 2);
    BOOST_TEST(dictionary_bit_width(4) == 2);
    BOOST_TEST(dictionary_bit_width(5) == 3);
    BOOST_TEST(dictionary_bit_width(256) == 8);
    BOOST_TEST(dictionary_bit_width(257) == 9);
}

BOOST_AUTO_TEST_SUITE_END()
