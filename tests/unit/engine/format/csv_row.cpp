// Reading the key off COPY rows. No database.

#include "format/csv_row.hpp"

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
                            "-9223372036854775809,x\n", "\"1,x\n", "\"1\"x\n", "\"\",x\n", "1;x\n"}) {
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

BOOST_AUTO_TEST_CASE(reads_keys_under_other_delimiters_and_force_quote) {
    struct item {
        std::string row;
        char delimiter;
        std::int64_t key;
        std::string rest;
    };
    const item cases[] = {
        {"1;a;b\n", ';', 1, "a;b\n"},
        {"\"12\";\"a\";\"\"\n", ';', 12, "\"a\";\"\"\n"},
        {"\"-7\",\"x,y\"\n", ',', -7, "\"x,y\"\n"},
        {"5\ta,b\t\n", '\t', 5, "a,b\t\n"},
        {"5|NULL|\"\"\n", '|', 5, "NULL|\"\"\n"},
        {"3\x02{\"a\":1}\n", '\x02', 3, "{\"a\":1}\n"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("row " << c.row) {
            auto split = split_keyed_row(c.row, c.delimiter);
            BOOST_REQUIRE(split);
            BOOST_TEST(split->key == c.key);
            BOOST_TEST(std::string(split->rest) == c.rest);
        }
    }
    BOOST_TEST(!split_keyed_row("1,a\n", ';'));
    BOOST_TEST(*leading_key("\"12\";x\n", ';') == 12);
    BOOST_TEST(*leading_key("\"12\"\n", ';') == 12);
    BOOST_TEST(*leading_key("12\tx\n", '\t') == 12);
    BOOST_TEST(!leading_key("12,x\n", '\t'));
    BOOST_TEST(!leading_key("\"12\n", ','));
}

BOOST_AUTO_TEST_CASE(jsonl_text_is_the_json_without_quotes_or_newline) {
    BOOST_TEST(std::string(*jsonl_text("{\"a\":\"x\\\"y\"}\n")) == "{\"a\":\"x\\\"y\"}");
    // A json column's own line break makes COPY quote the value with jsonl_quote.
    BOOST_TEST(std::string(*jsonl_text("\x01{\"j\":{\"a\":\n 1}}\x01\n")) == "{\"j\":{\"a\":\n 1}}");
    BOOST_TEST(!jsonl_text("{}"));
    BOOST_TEST(!jsonl_text("\n"));
    BOOST_TEST(!jsonl_text("\x01{}\n"));
    BOOST_TEST(!jsonl_text("\x01\n"));
}

BOOST_AUTO_TEST_CASE(quotes_a_lone_end_marker_in_single_column_output) {
    BOOST_TEST(std::string(single_column_row("\\.\n")) == "\"\\.\"\n");
    BOOST_TEST(std::string(single_column_row("\\.x\n")) == "\\.x\n");
    BOOST_TEST(std::string(single_column_row("\"\\.\"\n")) == "\"\\.\"\n");
    BOOST_TEST(std::string(single_column_row("\n")) == "\n");
}

BOOST_AUTO_TEST_SUITE_END()
