// Query strings: strict pairs, whole numbers and the job list's limit.
#include "query.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;

BOOST_AUTO_TEST_CASE(pairs_are_decoded_in_order) {
    auto p = parse_query_pairs("a=1&b=x%20y+z&&c&d=");
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST(p->size() == 4u);
    BOOST_TEST((*p)[1].second == "x y z");
    BOOST_TEST((*p)[2].first == "c");
    BOOST_TEST((*p)[2].second == "");
    BOOST_TEST(!parse_query_pairs("a=%zz").has_value());
    BOOST_TEST(!parse_query_pairs("a=%4").has_value());
}

BOOST_AUTO_TEST_CASE(whole_numbers_are_strict) {
    BOOST_TEST(parse_whole("42", 1, 100).value() == 42);
    for (std::string_view bad : {"", "5x", "x5", " 5", "5 ", "+5", "0x10", "4.0", "101", "0", "99999999999999999999"})
        BOOST_TEST(!parse_whole(bad, 1, 100).has_value(), bad);
    BOOST_TEST(parse_whole("-7", -10, 10).value() == -7);
}

BOOST_AUTO_TEST_CASE(the_job_list_takes_limit_only) {
    BOOST_TEST(parse_list_query("").value() == 100);
    BOOST_TEST(parse_list_query("limit=5").value() == 5);
    BOOST_TEST(parse_list_query("limit=1000").value() == 1000);
    for (std::string_view bad : {"limit=5x", "limit=0", "limit=1001", "xlimit=5", "limit=5&foo=1", "limit=",
                                 "limit=-1", "limit=%35x"})
        BOOST_TEST(!parse_list_query(bad).has_value(), bad);
    BOOST_TEST(parse_list_query("limit=%35").value() == 5);
}
