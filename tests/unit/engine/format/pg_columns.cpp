// PostgreSQL's column types to Parquet's (CONTRACT.md, Part 3, "Parquet"), and decoded rows into the writer.

#include "format/parquet/pg_columns.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::engine::detail;
using namespace pgexport::engine::detail::parquet;

BOOST_TEST_DONT_PRINT_LOG_VALUE(pg_binary_kind)
BOOST_TEST_DONT_PRINT_LOG_VALUE(physical_type)
BOOST_TEST_DONT_PRINT_LOG_VALUE(logical_type)

BOOST_AUTO_TEST_SUITE(pg_columns)

BOOST_AUTO_TEST_CASE(every_mapped_type) {
    struct expectation {
        const char* type;
        pg_binary_kind kind;
        physical_type physical;
        logical_type logical;
        bool as_text;
    };
    const expectation cases[] = {
        {"smallint", pg_binary_kind::int2, physical_type::int32, logical_type::integer, false},
        {"integer", pg_binary_kind::int4, physical_type::int32, logical_type::integer, false},
        {"bigint", pg_binary_kind::int8, physical_type::int64, logical_type::integer, false},
        {"real", pg_binary_kind::float4, physical_type::float32, logical_type::none, false},
        {"double precision", pg_binary_kind::float8, physical_type::float64, logical_type::none, false},
        {"boolean", pg_binary_kind::boolean, physical_type::boolean, logical_type::none, false},
        {"numeric(9,2)", pg_binary_kind::numeric, physical_type::int32, logical_type::decimal, false},
        {"numeric(18,0)", pg_binary_kind::numeric, physical_type::int64, logical_type::decimal, false},
        {"numeric(38,10)", pg_binary_kind::numeric, physical_type::fixed_len_byte_array, logical_type::decimal, false},
        {"numeric", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"numeric(39,2)", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"numeric(5,-2)", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"numeric(3,5)", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"text", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, false},
        {"character varying(20)", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, false},
        {"character varying", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, false},
        {"character(5)", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, false},
        {"bpchar", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, false},
        {"date", pg_binary_kind::date, physical_type::int32, logical_type::date, false},
        {"timestamp without time zone", pg_binary_kind::timestamp, physical_type::int64, logical_type::timestamp, false},
        {"timestamp(3) with time zone", pg_binary_kind::timestamp, physical_type::int64, logical_type::timestamp, false},
        {"uuid", pg_binary_kind::uuid, physical_type::fixed_len_byte_array, logical_type::uuid, false},
        {"json", pg_binary_kind::bytes, physical_type::byte_array, logical_type::json, false},
        {"jsonb", pg_binary_kind::jsonb, physical_type::byte_array, logical_type::json, false},
        {"bytea", pg_binary_kind::bytes, physical_type::byte_array, logical_type::none, false},
        {"interval", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"integer[]", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"time without time zone", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
        {"inet", pg_binary_kind::bytes, physical_type::byte_array, logical_type::string, true},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.type) {
            const auto plan = plan_pg_column("c", c.type, false, true);
            BOOST_TEST(plan.binary.kind == c.kind);
            BOOST_TEST(plan.parquet.type == c.physical);
            BOOST_TEST(plan.parquet.logical == c.logical);
            BOOST_TEST(plan.as_text == c.as_text);
            BOOST_TEST(plan.parquet.name == "c");
        }
    }
    const auto mood = plan_pg_column("m", "mood", true, false);
    BOOST_TEST(mood.parquet.logical == logical_type::string);
    BOOST_TEST(!mood.parquet.nullable);
    BOOST_TEST(!mood.as_text);
    const auto amount = plan_pg_column("a", "numeric(38,10)", false, true);
    BOOST_TEST(amount.parquet.type_length == 16);
    BOOST_TEST(amount.parquet.precision == 38);
    BOOST_TEST(amount.parquet.scale == 10);
    BOOST_TEST(amount.binary.precision == 38);
    BOOST_TEST(amount.binary.scale == 10);
    BOOST_TEST(plan_pg_column("a", "numeric(20,0)", false, true).parquet.type_length == 9);
    BOOST_TEST(plan_pg_column("s", "smallint", false, true).parquet.int_bits == 16);
    BOOST_TEST(plan_pg_column("t", "timestamp with time zone", false, true).parquet.adjusted_to_utc);
    BOOST_TEST(!plan_pg_column("t", "timestamp without time zone", false, true).parquet.adjusted_to_utc);
    BOOST_TEST(plan_pg_column("u", "uuid", false, true).parquet.type_length == 16);
}

BOOST_AUTO_TEST_CASE(rows_go_to_their_columns) {
    std::vector<column_spec> schema{plan_pg_column("i", "integer", false, true).parquet,
                                    plan_pg_column("d", "numeric(20,2)", false, true).parquet,
                                    plan_pg_column("s", "text", false, true).parquet};
    writer w(schema, writer_options{});
    std::vector<pg_field> row(3);
    row[0].type = pg_field::tag::i32;
    row[0].i32 = 5;
    row[1].type = pg_field::tag::i128;
    row[1].i128 = -12345;
    row[2].type = pg_field::tag::null;
    append_row(w, row);
    BOOST_TEST(w.open_rows() == 1);
    row[2].type = pg_field::tag::i64; // not the text column's kind
    BOOST_CHECK_THROW(append_row(w, row), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
