// The binary COPY decoder on bytes PostgreSQL 15 wrote (fixtures/*.bin, captured by fixtures/capture.sh
// from fixed SELECTs), fed whole, a byte at a time, at random cuts and as libpq hands it out. Expected
// values are the SELECTs' literals worked out by hand (date and epoch offsets asked of PostgreSQL), never
// the decoder's output.

#include "format/pg_binary.hpp"

#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace pgexport::engine::detail;

BOOST_TEST_DONT_PRINT_LOG_VALUE(pg_binary_status)
BOOST_TEST_DONT_PRINT_LOG_VALUE(pg_binary_error::kind)

namespace {

const std::filesystem::path fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";

std::string fixture(const char* name) {
    std::ifstream in(fixtures / (std::string(name) + ".bin"), std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "fixture " << name << " missing");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string hex(std::uint64_t bits, int digits) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%0*llx", digits, static_cast<unsigned long long>(bits));
    return buf;
}

std::string text_of(int128 v) {
    if (v == 0)
        return "0";
    const bool negative = v < 0;
    uint128 m = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
    std::string digits;
    while (m != 0) {
        digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
        m /= 10;
    }
    return (negative ? "-" : "") + digits;
}

// A decoded field as text that says its kind: "i32 5", "f64 3ff8000000000000", "bytes ab", "NULL".
std::string show(const pg_field& f) {
    switch (f.type) {
    case pg_field::tag::null:
        return "NULL";
    case pg_field::tag::i32:
        return "i32 " + std::to_string(f.i32);
    case pg_field::tag::i64:
        return "i64 " + std::to_string(f.i64);
    case pg_field::tag::f32:
        return "f32 " + hex(std::bit_cast<std::uint32_t>(f.f32), 8);
    case pg_field::tag::f64:
        return "f64 " + hex(std::bit_cast<std::uint64_t>(f.f64), 16);
    case pg_field::tag::boolean:
        return f.boolean ? "bool t" : "bool f";
    case pg_field::tag::i128:
        return "dec " + text_of(f.i128);
    case pg_field::tag::bytes:
        return "bytes " + std::string(f.bytes);
    }
    return "?";
}

std::string f32(float v) {
    return "f32 " + hex(std::bit_cast<std::uint32_t>(v), 8);
}
std::string f64(double v) {
    return "f64 " + hex(std::bit_cast<std::uint64_t>(v), 16);
}
std::string i32(std::int64_t v) {
    return "i32 " + std::to_string(v);
}
std::string i64(std::int64_t v) {
    return "i64 " + std::to_string(v);
}
std::string bytes(std::string_view v) {
    return "bytes " + std::string(v);
}

using rows = std::vector<std::vector<std::string>>;

struct outcome {
    rows decoded;
    pg_binary_status last;
    pg_binary_error error;
};

// Feeds `stream` cut into pieces at `cuts` (offsets, ascending), draining the decoder after each piece.
outcome decode(const std::string& stream, const std::vector<pg_binary_column>& columns, std::vector<std::size_t> cuts) {
    pg_binary_decoder decoder(columns);
    outcome out{};
    cuts.push_back(stream.size());
    std::size_t from = 0;
    for (const std::size_t to : cuts) {
        // Each piece in a buffer of its own that dies after it, as libpq's PQfreemem'd buffers do.
        std::string piece = stream.substr(from, to - from);
        from = to;
        decoder.feed(piece);
        for (;;) {
            out.last = decoder.next();
            if (out.last == pg_binary_status::row) {
                std::vector<std::string> row;
                for (const auto& f : decoder.fields())
                    row.push_back(show(f));
                out.decoded.push_back(std::move(row));
                continue;
            }
            break;
        }
        if (out.last == pg_binary_status::error) {
            out.error = decoder.error();
            break;
        }
    }
    BOOST_TEST(decoder.rows() == out.decoded.size());
    return out;
}

// Where libpq's messages end: after the header and first tuple, after each tuple, the trailer alone.
std::vector<std::size_t> message_cuts(const std::string& stream, std::size_t columns) {
    std::vector<std::size_t> cuts;
    std::size_t at = 19;
    auto be = [&](std::size_t p, int n) {
        std::int64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = (v << 8) | static_cast<unsigned char>(stream[p + static_cast<std::size_t>(i)]);
        return n == 2 ? static_cast<std::int16_t>(v) : static_cast<std::int32_t>(v);
    };
    while (be(at, 2) != -1) {
        at += 2;
        for (std::size_t c = 0; c < columns; ++c) {
            const auto length = be(at, 4);
            at += 4 + (length > 0 ? static_cast<std::size_t>(length) : 0);
        }
        cuts.push_back(at);
    }
    return cuts;
}

// Decodes `name` every way and checks each gives `expected`, ending at the trailer.
void check_fixture(const char* name, const std::vector<pg_binary_column>& columns, const rows& expected) {
    const std::string stream = fixture(name);
    std::vector<std::pair<std::string, std::vector<std::size_t>>> ways{{"whole", {}},
                                                                         {"messages", message_cuts(stream, columns.size())}};
    std::vector<std::size_t> bytewise;
    for (std::size_t i = 1; i < stream.size(); ++i)
        bytewise.push_back(i);
    ways.emplace_back("a byte at a time", bytewise);
    std::mt19937 random(static_cast<unsigned>(stream.size()));
    for (int round = 0; round < 20; ++round) {
        std::vector<std::size_t> cuts;
        for (std::size_t at = random() % 40; at < stream.size(); at += 1 + random() % 40)
            cuts.push_back(at);
        ways.emplace_back("random cuts " + std::to_string(round), cuts);
    }
    for (const auto& [way, cuts] : ways) {
        BOOST_TEST_CONTEXT(name << ", " << way) {
            const outcome out = decode(stream, columns, cuts);
            BOOST_TEST(out.last == pg_binary_status::end);
            BOOST_TEST_REQUIRE(out.decoded.size() == expected.size());
            for (std::size_t r = 0; r < expected.size(); ++r)
                BOOST_TEST(out.decoded[r] == expected[r], boost::test_tools::per_element());
        }
    }
}

constexpr std::int32_t int32_max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

pg_binary_column numeric(int precision, int scale) {
    return {pg_binary_kind::numeric, precision, scale};
}

} // namespace

BOOST_AUTO_TEST_SUITE(pg_binary)

BOOST_AUTO_TEST_CASE(integers) {
    check_fixture("integers", {{pg_binary_kind::int2}, {pg_binary_kind::int4}, {pg_binary_kind::int8}},
                  {{i32(1), i32(1), i64(1)},
                   {i32(-32768), i32(-2147483648LL), i64(std::numeric_limits<std::int64_t>::min())},
                   {i32(32767), i32(2147483647), i64(int64_max)},
                   {"NULL", "NULL", "NULL"},
                   {i32(0), i32(-1), i64(-1)}});
}

BOOST_AUTO_TEST_CASE(floats_with_nan_and_infinities) {
    const float inf32 = std::numeric_limits<float>::infinity();
    const double inf64 = std::numeric_limits<double>::infinity();
    check_fixture("floats", {{pg_binary_kind::float4}, {pg_binary_kind::float8}},
                  {{f32(1.5f), f64(1.5)},
                   {f32(-0.0f), f64(-0.0)},
                   {"f32 7fc00000", "f64 7ff8000000000000"}, // PostgreSQL's NaN
                   {f32(inf32), f64(inf64)},
                   {f32(-inf32), f64(-inf64)},
                   {f32(std::numeric_limits<float>::max()), f64(std::numeric_limits<double>::max())},
                   {f32(std::numeric_limits<float>::denorm_min()), f64(std::numeric_limits<double>::denorm_min())},
                   {"NULL", "NULL"},
                   {f32(0.1f), f64(0.1)}});
}

BOOST_AUTO_TEST_CASE(booleans) {
    check_fixture("booleans", {{pg_binary_kind::boolean}}, {{"bool t"}, {"bool f"}, {"NULL"}});
}

BOOST_AUTO_TEST_CASE(numerics_as_unscaled_decimals) {
    const std::string nines38(38, '9');
    check_fixture("numerics", {numeric(38, 10), numeric(5, 2), numeric(18, 0), numeric(4, 4)},
                  {{"dec 0", "dec 0", "dec 0", "dec 0"},
                   {"dec 15000000000", "dec 99999", "dec 999999999999999999", "dec 9999"},
                   {"dec -15000000000", "dec -1", "dec -999999999999999999", "dec -1"},
                   {"dec " + nines38, "dec 100", "dec 10000", "dec 5000"},
                   {"dec -" + nines38, "dec -100", "dec -10000", "dec 0"},
                   {"dec 1", "NULL", "dec 12345678901234567", "dec 1000"},
                   {"dec 12345678901234567890123456780123456789", "dec 1230", "dec 1", "dec 1"}});
}

BOOST_AUTO_TEST_CASE(numeric_nan_has_no_decimal) {
    const outcome out = decode(fixture("numeric_nan"), {numeric(10, 2)}, {});
    BOOST_TEST(out.last == pg_binary_status::error);
    BOOST_TEST(out.error.what == pg_binary_error::kind::unrepresentable);
    BOOST_TEST(out.error.column == 0);
    BOOST_TEST(out.error.message == "NaN has no Parquet DECIMAL form");
}

BOOST_AUTO_TEST_CASE(dates_from_1970_and_infinities) {
    check_fixture("dates", {{pg_binary_kind::date}},
                  {{i32(10957)},
                   {i32(0)},
                   {i32(-1)},
                   {i32(-2440550)},  // 4713-01-01 BC, PostgreSQL's first day
                   {i32(2145042905)}, // 5874897-12-31, its last
                   {i32(int32_max)},
                   {i32(-int32_max)},
                   {i32(24856)},
                   {i32(-25509)},
                   {"NULL"}});
}

BOOST_AUTO_TEST_CASE(timestamps_from_1970_and_infinities) {
    check_fixture("timestamps", {{pg_binary_kind::timestamp}, {pg_binary_kind::timestamp}},
                  {{i64(946684800000000), i64(946684800000000)},
                   {i64(0), i64(0)},
                   {i64(-1), i64(-1)},
                   {i64(-210863520000000000), i64(-210863520000000000)},
                   {i64(int64_max), i64(int64_max)},
                   {i64(-int64_max), i64(-int64_max)},
                   {i64(2147483648000000), i64(1717236000000000)},
                   {i64(int64_max - 1), i64(int64_max - 1)}, // the last microsecond an int64 holds
                   {"NULL", "NULL"}});
}

BOOST_AUTO_TEST_CASE(a_timestamp_past_int64_is_unrepresentable) {
    const outcome out = decode(fixture("timestamp_far"), {{pg_binary_kind::timestamp}}, {});
    BOOST_TEST(out.last == pg_binary_status::error);
    BOOST_TEST(out.error.what == pg_binary_error::kind::unrepresentable);
}

BOOST_AUTO_TEST_CASE(uuids_and_texts_as_bytes) {
    const std::string zero_to_ff("\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
    check_fixture("texts",
                  {{pg_binary_kind::uuid}, {pg_binary_kind::bytes}, {pg_binary_kind::bytes}, {pg_binary_kind::bytes},
                   {pg_binary_kind::bytes}},
                  {{bytes(zero_to_ff), bytes(""), bytes("ab"), bytes("ab   "), bytes("happy")},
                   {bytes(std::string(16, '\xff')), bytes("żółć 日本 🎉"), bytes("abcde"), bytes("abcde"), bytes("sad")},
                   {"NULL", "NULL", "NULL", "NULL", "NULL"}});
}

BOOST_AUTO_TEST_CASE(json_jsonb_bytea_and_text_forms) {
    check_fixture("documents",
                  {{pg_binary_kind::bytes}, {pg_binary_kind::jsonb}, {pg_binary_kind::bytes}, {pg_binary_kind::bytes},
                   {pg_binary_kind::bytes}},
                  {{bytes("{\"a\": 1,  \"b\":[1,2]}"), bytes("{\"a\": 1, \"b\": [1, 2]}"),
                    bytes(std::string("\x00\xff\x10", 3)), bytes("1 day 02:00:00"), bytes("[1,5)")},
                   {bytes("[]"), bytes("null"), bytes(""), "NULL", "NULL"}});
}

BOOST_AUTO_TEST_CASE(no_rows_is_the_header_and_the_trailer) {
    check_fixture("empty", {{pg_binary_kind::int4}}, {});
}

BOOST_AUTO_TEST_CASE(a_thousand_rows) {
    rows expected;
    for (int g = 1; g <= 1000; ++g)
        expected.push_back({i32(g), bytes(std::string(static_cast<std::size_t>(g % 50), 'x'))});
    check_fixture("series", {{pg_binary_kind::int4}, {pg_binary_kind::bytes}}, expected);
}

BOOST_AUTO_TEST_CASE(malformed_streams_are_errors) {
    const std::string integers = fixture("integers");
    const std::vector<pg_binary_column> three{{pg_binary_kind::int2}, {pg_binary_kind::int4}, {pg_binary_kind::int8}};
    auto error_of = [&](const std::string& stream, const std::vector<pg_binary_column>& columns) {
        const outcome out = decode(stream, columns, {});
        BOOST_TEST(out.last == pg_binary_status::error);
        BOOST_TEST(out.error.what == pg_binary_error::kind::malformed);
        return out.error.message;
    };
    std::string bad = integers;
    bad[0] = 'X';
    BOOST_TEST(error_of(bad, three) == "not a binary COPY stream (no PGCOPY signature)");
    bad = integers;
    bad[12] = 1; // flag bit 16: OIDs
    error_of(bad, three);
    // The fields are not of the columns' sizes (int8 where int4 is expected).
    error_of(integers, {{pg_binary_kind::int2}, {pg_binary_kind::int8}, {pg_binary_kind::int8}});
    // Two columns where the tuples have three.
    error_of(integers, {{pg_binary_kind::int2}, {pg_binary_kind::int4}});
    // Bytes after the trailer.
    error_of(integers + "x", three);
    // A stream that stops halfway is not an error, only unfinished.
    const outcome half = decode(integers.substr(0, 60), three, {});
    BOOST_TEST(half.last == pg_binary_status::need_more);
    BOOST_TEST(half.decoded.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_header_extension_is_skipped) {
    // The header with a 5-byte extension, then one int4 tuple and the trailer.
    std::string stream("PGCOPY\n\377\r\n\0", 11);
    stream += std::string("\0\0\0\0\0\0\0\5", 8) + "12345";
    stream += std::string("\0\1\0\0\0\4\0\0\0\x2a\xff\xff", 12);
    const outcome out = decode(stream, {{pg_binary_kind::int4}}, {3, 20, 22});
    BOOST_TEST(out.last == pg_binary_status::end);
    BOOST_TEST((out.decoded == rows{{i32(42)}}));
}

BOOST_AUTO_TEST_CASE(numeric_conversions) {
    // numeric's send form by hand: ndigits, weight, sign, dscale, then base-10000 digits.
    auto field = [](std::int16_t weight, std::uint16_t sign, std::int16_t dscale, std::vector<std::uint16_t> digits) {
        std::string f;
        auto put = [&f](std::uint16_t v) {
            f.push_back(static_cast<char>(v >> 8));
            f.push_back(static_cast<char>(v & 0xFF));
        };
        put(static_cast<std::uint16_t>(digits.size()));
        put(static_cast<std::uint16_t>(weight));
        put(sign);
        put(static_cast<std::uint16_t>(dscale));
        for (auto d : digits)
            put(d);
        return f;
    };
    auto unscaled = [](const std::string& f, int precision, int scale) {
        pg_binary_error error;
        const int128 v = numeric_unscaled(f, precision, scale, error);
        return error.message.empty() ? text_of(v) : error.message;
    };
    // 12345.678 = 1|2345|6780 with weight 1.
    const std::string n = field(1, 0, 3, {1, 2345, 6780});
    BOOST_TEST(unscaled(n, 8, 3) == "12345678");
    BOOST_TEST(unscaled(n, 10, 5) == "1234567800");
    BOOST_TEST(unscaled(n, 7, 3) == "a numeric value with more digits than its precision 7");
    BOOST_TEST(unscaled(n, 8, 2) == "a numeric value with more decimal digits than its scale 2");
    // 10^20 (1 with weight 5), trailing zero groups left out as PostgreSQL does.
    BOOST_TEST(unscaled(field(5, 0, 0, {1}), 21, 0) == "100000000000000000000");
    BOOST_TEST(unscaled(field(5, 0, 0, {1}), 38, 17) == "10000000000000000000000000000000000000");
    BOOST_TEST(unscaled(field(5, 0, 0, {1}), 38, 18) == "a numeric value with more digits than its precision 38");
    // -0.0005 = 5 at weight -1, digit 0005.
    BOOST_TEST(unscaled(field(-1, 0x4000, 4, {5}), 4, 4) == "-5");
    BOOST_TEST(unscaled(field(-1, 0x4000, 4, {5}), 4, 3) == "a numeric value with more decimal digits than its scale 3");
    // Zero has no digits at all.
    BOOST_TEST(unscaled(field(0, 0, 2, {}), 5, 2) == "0");
    BOOST_TEST(unscaled(field(0, 0xD000, 0, {}), 5, 2) == "Infinity has no Parquet DECIMAL form");
    BOOST_TEST(unscaled(field(0, 0xF000, 0, {}), 5, 2) == "-Infinity has no Parquet DECIMAL form");
    BOOST_TEST(unscaled(field(0, 0x1234, 0, {}), 5, 2) == "a numeric field with an unknown sign");
    BOOST_TEST(unscaled(field(0, 0, 0, {10000}), 5, 0) == "a numeric digit over 9999");
    BOOST_TEST(unscaled(n.substr(0, 9), 8, 3) == "a numeric field whose digit count does not match its length");
}

BOOST_AUTO_TEST_SUITE_END()
