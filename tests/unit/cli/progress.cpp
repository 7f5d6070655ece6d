// The export client's progress line. No I/O.

#include "progress_display.hpp"

#include <boost/test/unit_test.hpp>

using pgexport::cli::progress_line;

BOOST_AUTO_TEST_SUITE(progress)

BOOST_AUTO_TEST_CASE(bar_percent_rate_and_eta) {
    BOOST_TEST(progress_line(400000, 1000000, 100000, 10) ==
               "[####------]  40%  400,000/1,000,000 rows  100,000 rows/s  ETA 6s");
    BOOST_TEST(progress_line(0, 1000, 0, 4) == "[----]   0%  0/1,000 rows");
    BOOST_TEST(progress_line(10, 1000000, 1, 4).find("ETA 16666m") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(estimate_below_rows_caps_at_full) {
    BOOST_TEST(progress_line(1500, 1000, 0, 4) == "[####] 100%  1,500/1,000 rows");
}

BOOST_AUTO_TEST_CASE(unknown_estimate_shows_rows_only) {
    BOOST_TEST(progress_line(1234567, 0, 0, 10) == "1,234,567 rows");
    BOOST_TEST(progress_line(5, 0, 2.5, 10) == "5 rows  2 rows/s");
}

BOOST_AUTO_TEST_SUITE_END()
