// Reading the key off COPY rows. No database.

#include "detail/csv_row.hpp"

#include <boost/test/unit_test.hpp>

#include <limits>

using namespace pgexport::engine::detail;

BOOST_AUTO_TEST_SUITE(csv_row)

BOOST_AUTO_TEST_CASE(splits_key_and_rest) {
    struct item {
        std::string row;
        std::int64_t key;
        std::string rest;
    };
    const item cases[] = {
        {"1,a,b\n", 1, "a,b\n"},
        {"42,\"multi\nline, with comma\",\"\"\n", 42, "\"multi\nline, with comma\",\"\"\n"},
        {"-5,x\n", -5, "x\n"},
        {"0,\n", 0, "\n"},
        {"9223372036854775807,z\n", std::numeric_limits<std::int64_t>::max(), "z\n"},
        {"-9223372036854775808,z\n", std::numeric_limits<std::int64_t>::min(), "z\n"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("row " << c.row) {
            auto split = split_keyed_row(c.row);
            BOOST_REQUIRE(split);
            BOOST_TEST(split->key == c.key);
            BOOST_TEST(std::string(split->rest) == c.rest);
        }
    }
}

BOOST_AUTO_TEST_CASE(rejects_rows_without_a_key) {
    for (std::string row : {"", ",a\n", "a,b\n", "12\n", "-,x\n", "1.5,x\n", "9223372036854775808,x\n",
                            "-9223372036854775809,x\n", "\"1\",x\n"}) {
        BOOST_TEST_CONTEXT("row " << row) {
            BOOST_TEST(!split_keyed_row(row));
        }
    }
}

BOOST_AUTO_TEST_CASE(leading_key_reads_the_first_column) {
    BOOST_TEST(*leading_key("12,a,b\n") == 12);
    BOOST_TEST(*leading_key("-3\n") == -3);
    BOOST_TEST(*leading_key("7,\"x\ny\"\n") == 7);
    BOOST_TEST(!leading_key("\n"));
    BOOST_TEST(!leading_key("x,1\n"));
    BOOST_TEST(!leading_key("12"));
}

BOOST_AUTO_TEST_CASE(quotes_a_lone_end_marker_in_single_column_output) {
    BOOST_TEST(std::string(single_column_row("\\.\n")) == "\"\\.\"\n");
    BOOST_TEST(std::string(single_column_row("\\.x\n")) == "\\.x\n");
    BOOST_TEST(std::string(single_column_row("\"\\.\"\n")) == "\"\\.\"\n");
    BOOST_TEST(std::string(single_column_row("\n")) == "\n");
}

BOOST_AUTO_TEST_SUITE_END()
