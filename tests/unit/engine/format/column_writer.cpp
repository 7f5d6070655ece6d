// One column chunk: pages and their bounds, the dictionary and its fallbacks to PLAIN, statistics, decimals.
// Chunks are written uncompressed and read back page by page with the test support's reader.

#include "format/parquet/column_writer.hpp"

#include "parquet_read.hpp"

#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using namespace pgexport::engine::detail;
using namespace pgexport::engine::detail::parquet;
namespace pr = pgexport::test::parquet_read;

namespace {

struct page {
    std::size_t offset; // of its header in the chunk
    int type;           // 0 data, 2 dictionary
    int values;   // num_values
    int encoding; // the values' encoding
    std::string body;
};

std::vector<page> pages_of(std::string_view chunk) {
    std::vector<page> pages;
    std::size_t at = 0;
    while (at < chunk.size()) {
        pr::compact_reader reader(chunk.substr(at));
        const auto header = reader.read_struct();
        page p;
        p.offset = at;
        at += reader.position();
        const auto size = static_cast<std::size_t>(header.at(3).integer());
        p.type = static_cast<int>(header.at(1).integer());
        BOOST_TEST(header.at(2).integer() == header.at(3).integer()); // uncompressed
        const auto& sub = header.at(p.type == 0 ? 5 : 7).structure();
        p.values = static_cast<int>(sub.at(1).integer());
        p.encoding = static_cast<int>(sub.at(2).integer());
        p.body = std::string(chunk.substr(at, size));
        at += size;
        pages.push_back(std::move(p));
    }
    return pages;
}

std::uint32_t little_endian_u32(std::string_view bytes) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
    return v;
}

// Splits PLAIN values: fixed `width` bytes each, or (width 0) byte arrays with their 4-byte lengths.
std::vector<std::string> plain_values(std::string_view body, int width, std::size_t count) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t size = static_cast<std::size_t>(width);
        if (width == 0) {
            size = little_endian_u32(body.substr(at, 4));
            at += 4;
        }
        out.emplace_back(body.substr(at, size));
        at += size;
    }
    BOOST_TEST(at == body.size());
    return out;
}

// Every value of a chunk of a nullable column (nullopt for null), as PLAIN bytes.
std::vector<std::optional<std::string>> values_of(std::string_view chunk, int width) {
    std::vector<std::optional<std::string>> out;
    std::vector<std::string> dictionary;
    for (const page& p : pages_of(chunk)) {
        if (p.type == 2) {
            BOOST_TEST(out.empty()); // the dictionary page comes first
            dictionary = plain_values(p.body, width, static_cast<std::size_t>(p.values));
            continue;
        }
        const std::uint32_t levels_size = little_endian_u32(p.body);
        const auto levels = pr::decode_rle_hybrid(std::string_view(p.body).substr(4, levels_size), 1,
                                                    static_cast<std::size_t>(p.values));
        std::size_t non_null = 0;
        for (auto l : levels)
            non_null += l;
        const std::string_view values = std::string_view(p.body).substr(4 + levels_size);
        std::vector<std::string> decoded;
        if (p.encoding == 8) {
            const int bit_width = static_cast<unsigned char>(values[0]);
            for (auto index : pr::decode_rle_hybrid(values.substr(1), bit_width, non_null))
                decoded.push_back(dictionary.at(index));
        } else {
            BOOST_TEST(p.encoding == 0);
            decoded = plain_values(values, width, non_null);
        }
        std::size_t next = 0;
        for (auto l : levels)
            out.push_back(l ? std::optional<std::string>(decoded[next++]) : std::nullopt);
    }
    return out;
}

std::string le64(std::int64_t v) {
    std::string s;
    for (int i = 0; i < 8; ++i)
        s.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF));
    return s;
}

std::string le32(std::int32_t v) {
    return le64(v).substr(0, 4);
}

column_spec int64_column() {
    return {"n", physical_type::int64, logical_type::integer, true, 0, 64};
}

column_spec string_column() {
    return {"s", physical_type::byte_array, logical_type::string, true};
}

struct chunk {
    column_chunk_info info;
    std::string bytes;
};

chunk finish(column_writer& w, std::int64_t offset = 100) {
    chunk c;
    c.info = w.finish_chunk(offset, c.bytes);
    return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(column_writer_tests)

BOOST_AUTO_TEST_CASE(few_distinct_values_stay_dictionary_encoded) {
    page_codec codec(codec::uncompressed);
    page_limits limits;
    limits.page_values = 100;
    column_writer w(string_column(), limits, codec);
    const char* words[] = {"books", "music", "games"};
    for (int i = 0; i < 1000; ++i) {
        if (i % 10 == 9)
            w.append_null();
        else
            w.append_bytes(words[i % 3]);
    }
    const chunk c = finish(w);
    BOOST_TEST(c.info.values == 1000);
    BOOST_TEST(c.info.dictionary_page_offset.value_or(-1) == 100);
    BOOST_TEST(c.info.dictionary_pages == 10); // 100 values a page
    BOOST_TEST(c.info.plain_pages == 0);
    BOOST_TEST(c.info.compressed_bytes == static_cast<std::int64_t>(c.bytes.size()));
    const auto pages = pages_of(c.bytes);
    BOOST_TEST(pages.size() == 11u);
    BOOST_TEST(pages[0].type == 2);
    BOOST_TEST(pages[0].values == 3);
    BOOST_TEST(c.info.data_page_offset == 100 + static_cast<std::int64_t>(pages[1].offset));
    const auto values = values_of(c.bytes, 0);
    BOOST_REQUIRE(values.size() == 1000u);
    for (int i = 0; i < 1000; ++i) {
        if (i % 10 == 9)
            BOOST_TEST(!values[static_cast<std::size_t>(i)].has_value());
        else
            BOOST_TEST(*values[static_cast<std::size_t>(i)] == words[i % 3]);
    }
    BOOST_TEST(c.info.statistics.null_count == 100);
    BOOST_TEST(*c.info.statistics.min_value == "books");
    BOOST_TEST(*c.info.statistics.max_value == "music");
}

BOOST_AUTO_TEST_CASE(a_first_page_of_mostly_distinct_values_goes_plain) {
    page_codec codec(codec::uncompressed);
    page_limits limits;
    limits.page_values = 100;
    column_writer w(int64_column(), limits, codec);
    for (std::int64_t i = 0; i < 1000; ++i)
        w.append_int64(i * 7);
    const chunk c = finish(w);
    BOOST_TEST(!c.info.dictionary_page_offset.has_value());
    BOOST_TEST(c.info.plain_pages == 10);
    BOOST_TEST(c.info.dictionary_pages == 0);
    BOOST_TEST(c.info.data_page_offset == 100);
    const auto values = values_of(c.bytes, 8);
    BOOST_REQUIRE(values.size() == 1000u);
    for (std::int64_t i = 0; i < 1000; ++i)
        BOOST_TEST(*values[static_cast<std::size_t>(i)] == le64(i * 7));
}

BOOST_AUTO_TEST_CASE(a_dictionary_that_outgrows_its_limit_falls_back_to_plain) {
    page_codec codec(codec::uncompressed);
    page_limits limits;
    limits.page_values = 100;
    limits.dictionary_bytes = 200; // 16 entries of 4 + 8 bytes fit, the 17th does not
    column_writer w(string_column(), limits, codec);
    std::vector<std::string> written;
    for (int i = 0; i < 1000; ++i) {
        // Few distinct values first (the first page keeps its dictionary), then ever more.
        const int key = i < 150 ? i % 5 : i / 10;
        written.push_back("value" + std::to_string(1000 + key).substr(1));
        w.append_bytes(written.back());
    }
    const chunk c = finish(w);
    BOOST_TEST(c.info.dictionary_page_offset.has_value());
    // Values 0-99 and 100-199 fill two pages; the 17th distinct value (at 260) ends the third early.
    BOOST_TEST(c.info.dictionary_pages == 3);
    BOOST_TEST(c.info.plain_pages == 8); // 260-999, 100 a page
    const auto pages = pages_of(c.bytes);
    BOOST_REQUIRE(pages.size() == 12u);
    BOOST_TEST(pages[0].type == 2);
    BOOST_TEST(pages[0].values == 16);
    BOOST_TEST(pages[1].encoding == 8);
    BOOST_TEST(pages[3].encoding == 8);
    BOOST_TEST(pages[3].values == 60);
    BOOST_TEST(pages[4].encoding == 0);
    BOOST_TEST(pages.back().encoding == 0);
    const auto values = values_of(c.bytes, 0);
    BOOST_REQUIRE(values.size() == written.size());
    for (std::size_t i = 0; i < written.size(); ++i)
        BOOST_TEST(*values[i] == written[i]);
}

BOOST_AUTO_TEST_CASE(no_dictionary_when_its_limit_is_zero_and_never_for_booleans) {
    page_codec codec(codec::uncompressed);
    page_limits limits;
    limits.dictionary_bytes = 0;
    column_writer strings(string_column(), limits, codec);
    column_writer booleans({"b", physical_type::boolean, logical_type::none, true}, page_limits{}, codec);
    for (int i = 0; i < 100; ++i) {
        strings.append_bytes("same");
        if (i % 3 == 0)
            booleans.append_null();
        else
            booleans.append_bool(i % 2 == 0);
    }
    BOOST_TEST(finish(strings).info.dictionary_pages == 0);
    const chunk b = finish(booleans);
    BOOST_TEST(b.info.dictionary_pages == 0);
    BOOST_TEST(!b.info.dictionary_page_offset.has_value());
    // The booleans' page: levels, then the non-null values bit-packed.
    const auto pages = pages_of(b.bytes);
    BOOST_REQUIRE(pages.size() == 1u);
    const std::uint32_t levels_size = little_endian_u32(pages[0].body);
    const std::string_view packed = std::string_view(pages[0].body).substr(4 + levels_size);
    std::vector<bool> expected;
    for (int i = 0; i < 100; ++i)
        if (i % 3 != 0)
            expected.push_back(i % 2 == 0);
    BOOST_REQUIRE(packed.size() == (expected.size() + 7) / 8);
    for (std::size_t i = 0; i < expected.size(); ++i)
        BOOST_TEST(((static_cast<unsigned char>(packed[i / 8]) >> (i % 8)) & 1) == expected[i]);
    BOOST_TEST(*b.info.statistics.min_value == std::string(1, '\0'));
    BOOST_TEST(*b.info.statistics.max_value == std::string(1, '\1'));
    BOOST_TEST(b.info.statistics.null_count == 34);
}

BOOST_AUTO_TEST_CASE(pages_are_bounded_by_bytes_and_values) {
    page_codec codec(codec::uncompressed);
    page_limits limits;
    limits.page_bytes = 1000;
    limits.dictionary_bytes = 0;
    column_writer w(int64_column(), limits, codec);
    for (int i = 0; i < 1000; ++i)
        w.append_int64(i);
    // 8 bytes a value and a level bit: a page ends at its 124th value (992 + 15 bytes), so 9 pages.
    const chunk c = finish(w);
    BOOST_TEST(c.info.plain_pages == 9);
    for (const page& p : pages_of(c.bytes))
        BOOST_TEST(p.body.size() <= 1000u + 4 + 20);
    // A value longer than a page is a page of its own.
    column_writer s(string_column(), limits, codec);
    s.append_bytes("a");
    s.append_bytes(std::string(5000, 'x'));
    s.append_bytes("b");
    const chunk long_values = finish(s);
    BOOST_TEST(long_values.info.plain_pages == 2);
    BOOST_TEST(!long_values.info.statistics.min_value.has_value()); // longer than statistics_bytes
    BOOST_TEST(values_of(long_values.bytes, 0).at(1).value() == std::string(5000, 'x'));
}

BOOST_AUTO_TEST_CASE(statistics_of_integers_are_signed) {
    page_codec codec(codec::uncompressed);
    column_writer w({"i", physical_type::int32, logical_type::integer, true, 0, 32}, page_limits{}, codec);
    for (const std::int32_t v : {5, -3, std::numeric_limits<std::int32_t>::max(), 0})
        w.append_int32(v);
    w.append_null();
    const chunk c = finish(w);
    BOOST_TEST(*c.info.statistics.min_value == le32(-3));
    BOOST_TEST(*c.info.statistics.max_value == le32(std::numeric_limits<std::int32_t>::max()));
    BOOST_TEST(c.info.statistics.null_count == 1);
    BOOST_TEST(!c.info.statistics.nan_count.has_value());
}

BOOST_AUTO_TEST_CASE(statistics_of_floats_leave_nan_out_and_sign_zeros) {
    page_codec codec(codec::uncompressed);
    const column_spec spec{"d", physical_type::float64, logical_type::none, true};
    auto bytes_of = [](double d) { return le64(std::bit_cast<std::int64_t>(d)); };
    {
        column_writer w(spec, page_limits{}, codec);
        for (const double v : {std::nan(""), 2.5, -std::numeric_limits<double>::infinity(), std::nan("")})
            w.append_double(v);
        const chunk c = finish(w);
        BOOST_TEST(*c.info.statistics.nan_count == 2);
        BOOST_TEST(*c.info.statistics.min_value == bytes_of(-std::numeric_limits<double>::infinity()));
        BOOST_TEST(*c.info.statistics.max_value == bytes_of(2.5));
    }
    {
        column_writer w(spec, page_limits{}, codec);
        w.append_double(0.0);
        w.append_double(-0.0);
        const chunk c = finish(w);
        BOOST_TEST(*c.info.statistics.min_value == bytes_of(-0.0));
        BOOST_TEST(*c.info.statistics.max_value == bytes_of(0.0));
        BOOST_TEST(*c.info.statistics.nan_count == 0);
    }
    {
        column_writer w(spec, page_limits{}, codec);
        w.append_double(std::nan(""));
        w.append_null();
        const chunk c = finish(w);
        BOOST_TEST(!c.info.statistics.min_value.has_value()); // every value NaN: no min, no max
        BOOST_TEST(*c.info.statistics.nan_count == 1);
    }
    {
        column_writer w({"f", physical_type::float32, logical_type::none, true}, page_limits{}, codec);
        w.append_float(-1.5f);
        w.append_float(0.25f);
        const chunk c = finish(w);
        BOOST_TEST(*c.info.statistics.min_value == le32(std::bit_cast<std::int32_t>(-1.5f)));
        BOOST_TEST(*c.info.statistics.max_value == le32(std::bit_cast<std::int32_t>(0.25f)));
    }
}

BOOST_AUTO_TEST_CASE(statistics_of_strings_are_unsigned_bytewise) {
    page_codec codec(codec::uncompressed);
    column_writer w(string_column(), page_limits{}, codec);
    for (const char* v : {"b", "\xc3\xa9", "", "a\xff", "a"})
        w.append_bytes(v);
    const chunk c = finish(w);
    BOOST_TEST(*c.info.statistics.min_value == "");
    BOOST_TEST(*c.info.statistics.max_value == "\xc3\xa9"); // 0xC3 > 'b' unsigned
    BOOST_TEST(c.info.statistics.null_count == 0);
}

BOOST_AUTO_TEST_CASE(decimals_by_physical_type) {
    page_codec codec(codec::uncompressed);
    // precision 9 in INT32, 18 in INT64: the unscaled value as the integer.
    column_writer small({"d", physical_type::int32, logical_type::decimal, true, 0, 0, 9, 2}, page_limits{}, codec);
    small.append_decimal(-999999999);
    small.append_decimal(12345);
    chunk c = finish(small);
    BOOST_TEST(*c.info.statistics.min_value == le32(-999999999));
    BOOST_TEST(*c.info.statistics.max_value == le32(12345));
    BOOST_CHECK_THROW(small.append_decimal(1000000000), std::invalid_argument); // 10 digits
    column_writer medium({"d", physical_type::int64, logical_type::decimal, true, 0, 0, 18, 0}, page_limits{}, codec);
    medium.append_decimal(-999999999999999999);
    c = finish(medium);
    BOOST_TEST(*c.info.statistics.min_value == le64(-999999999999999999));
    // precision 38 in 16 bytes, big-endian two's complement; min and max by value, not by bytes.
    BOOST_TEST(decimal_bytes(38) == 16);
    column_writer large({"d", physical_type::fixed_len_byte_array, logical_type::decimal, true, 16, 0, 38, 10},
                        page_limits{}, codec);
    const int128 largest = static_cast<int128>(powers_of_ten[38] - 1);
    large.append_decimal(-1);
    large.append_decimal(largest);
    large.append_decimal(-largest);
    large.append_decimal(258);
    c = finish(large);
    BOOST_TEST(*c.info.statistics.min_value ==
               std::string("\xb4\xc4\xb3\x57\xa5\x79\x3b\x85\xf6\x75\xdd\xc0\x00\x00\x00\x01", 16));
    BOOST_TEST(*c.info.statistics.max_value ==
               std::string("\x4b\x3b\x4c\xa8\x5a\x86\xc4\x7a\x09\x8a\x22\x3f\xff\xff\xff\xff", 16));
    const auto values = values_of(c.bytes, 16);
    BOOST_TEST(*values.at(0) == std::string(16, '\xff'));
    BOOST_TEST(*values.at(3) == std::string("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x02", 16));
    // 19 digits need 9 bytes (2^71 > 10^21), 21 too, 22 need 10.
    BOOST_TEST(decimal_bytes(19) == 9);
    BOOST_TEST(decimal_bytes(21) == 9);
    BOOST_TEST(decimal_bytes(22) == 10);
    column_writer nine({"d", physical_type::fixed_len_byte_array, logical_type::decimal, true, 9, 0, 19, 0},
                       page_limits{}, codec);
    nine.append_decimal(-static_cast<int128>(powers_of_ten[19] - 1));
    c = finish(nine);
    // -(10^19 - 1) in 9 bytes: 2^72 - (10^19 - 1) = 4712366482869645213697 = 0xFF7538DCFB76180001.
    BOOST_TEST(*c.info.statistics.min_value == std::string("\xff\x75\x38\xdc\xfb\x76\x18\x00\x01", 9));
}

BOOST_AUTO_TEST_CASE(wrong_values_are_refused) {
    page_codec codec(codec::uncompressed);
    column_writer required({"r", physical_type::int32, logical_type::none, false}, page_limits{}, codec);
    BOOST_CHECK_THROW(required.append_null(), std::logic_error);
    BOOST_CHECK_THROW(required.append_int64(1), std::logic_error);
    column_writer uuid({"u", physical_type::fixed_len_byte_array, logical_type::uuid, true, 16}, page_limits{}, codec);
    BOOST_CHECK_THROW(uuid.append_bytes("short"), std::invalid_argument);
    required.append_int32(7);
    const chunk c = finish(required);
    // A required column has no levels: the page is the value alone.
    const auto pages = pages_of(c.bytes);
    BOOST_REQUIRE(pages.size() == 1u);
    BOOST_TEST(pages[0].body == le32(7));
}

BOOST_AUTO_TEST_SUITE_END()
