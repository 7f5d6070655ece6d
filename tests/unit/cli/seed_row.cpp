// The demo rows: deterministic and CSV-hostile. No database.

#include "seed.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <utility>

using namespace pgexport::cli;

BOOST_AUTO_TEST_SUITE(seed_rows)

BOOST_AUTO_TEST_CASE(rows_are_the_independently_computed_ones) {
    // Printed by seed_row_expected.py, which computes the rows apart from seed_row (Python integers for
    // splitmix64, Python's datetime for the dates). 999 twice: a row does not depend on the calls before.
    const std::pair<std::int64_t, std::string> expected[] = {
        {0, "toys\t2024-04-13 17:44:15+00\tIvan Nguyễn\tivan.nguyen0@example.com\t51566.89\tdelivered\t  "
            "leading and trailing spaces  \n"},
        {1, "toys\t2024-01-30 10:42:38+00\tSøren Smith\tsoren.smith1@example.com\t84589.47\tdelivered\tHas "
            "\"double quotes\" and a lone \" inside\n"},
        {3, "home\t2023-03-26 14:43:35+00\tŁukasz "
            "Müller\tlukasz.muller3@example.com\t68259.62\tdelivered\t\\N\n"},
        {4, "beauty\t2024-07-22 04:08:43+00\tNgọc Müller\tngoc.muller4@example.com\t48635.82\tpending\tPlain "
            "description #4\n"},
        {5, "beauty\t2024-11-10 01:41:09+00\tLiam "
            "Müller\tliam.muller5@example.com\t16382.90\tdelivered\tTab\\tseparated and back\\\\slash\n"},
        {6,
         "clothing\t2025-03-21 14:33:21+00\tÉmile "
         "Müller\temile.muller6@example.com\t73916.10\tpaid\tMulti-line text\\nsecond line\\nthird line\n"},
        {10, "sports\t2023-03-17 01:50:07+00\tŁukasz "
             "García\tlukasz.garcia10@example.com\t87702.55\tpending\tWindows line ending\\r\\nnext line\n"},
        {999, "clothing\t2024-09-07 00:54:00+00\tJosé 李\tjose.li999@example.com\t-24428.07\tshipped\tHas "
              "\"double quotes\" and a lone \" inside\n"},
        {123456789, "food\t2025-04-04 11:05:26+00\tAiko "
                    "Müller\taiko.muller123456789@example.com\t86867.69\trefunded\t\n"},
        {999, "clothing\t2024-09-07 00:54:00+00\tJosé 李\tjose.li999@example.com\t-24428.07\tshipped\tHas "
              "\"double quotes\" and a lone \" inside\n"},
    };
    for (const auto& [ordinal, row] : expected) {
        BOOST_TEST_CONTEXT("ordinal " << ordinal) {
            BOOST_TEST(seed_row(ordinal) == row);
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
