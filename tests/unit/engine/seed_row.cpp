// The demo rows: deterministic and CSV-hostile. No database.

#include <pgexport/seed.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace pgexport::engine;

BOOST_AUTO_TEST_SUITE(seed_rows)

BOOST_AUTO_TEST_CASE(same_ordinal_same_row) {
    for (std::int64_t i : {0, 1, 999, 123456789}) {
        BOOST_TEST_CONTEXT("ordinal " << i) {
            BOOST_TEST(seed_row(i) == seed_row(i));
        }
    }
    BOOST_TEST(seed_row(1) != seed_row(2));
}

BOOST_AUTO_TEST_CASE(rows_are_seven_tab_separated_fields) {
    for (std::int64_t i = 0; i < 2000; ++i) {
        const std::string row = seed_row(i);
        BOOST_TEST_CONTEXT("ordinal " << i) {
            BOOST_TEST(row.back() == '\n');
            BOOST_TEST(std::count(row.begin(), row.end(), '\n') == 1); // line breaks are escaped
            BOOST_TEST(std::count(row.begin(), row.end(), '\t') == 6);
        }
    }
}

BOOST_AUTO_TEST_CASE(hostile_content_occurs) {
    bool null = false, empty = false, quote = false, newline = false, comma = false, unicode = false,
         cr = false;
    for (std::int64_t i = 0; i < 2000; ++i) {
        const std::string row = seed_row(i);
        const std::string description = row.substr(row.rfind('\t') + 1);
        null |= description == "\\N\n";
        empty |= description == "\n";
        quote |= description.find('"') != std::string::npos;
        newline |= description.find("\\n") != std::string::npos;
        cr |= description.find("\\r") != std::string::npos;
        comma |= description.find(',') != std::string::npos;
        unicode |= description.find("日本語") != std::string::npos;
    }
    BOOST_TEST(null);
    BOOST_TEST(empty);
    BOOST_TEST(quote);
    BOOST_TEST(newline);
    BOOST_TEST(cr);
    BOOST_TEST(comma);
    BOOST_TEST(unicode);
}

BOOST_AUTO_TEST_SUITE_END()
