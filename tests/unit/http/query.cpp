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

BOOST_AUTO_TEST_CASE(the_job_list_takes_limit_and_requests) {
    BOOST_TEST(parse_list_query("").value().limit == 100);
    BOOST_TEST(!parse_list_query("").value().full_requests);
    BOOST_TEST(parse_list_query("limit=5").value().limit == 5);
    BOOST_TEST(parse_list_query("limit=1000").value().limit == 1000);
    BOOST_TEST(parse_list_query("limit=3&requests=full").value().full_requests);
    BOOST_TEST(!parse_list_query("requests=all").has_value());
    for (std::string_view bad : {"limit=5x", "limit=0", "limit=1001", "xlimit=5", "limit=5&foo=1", "limit=",
                                 "limit=-1", "limit=%35x"})
        BOOST_TEST(!parse_list_query(bad).has_value(), bad);
    BOOST_TEST(parse_list_query("limit=%35").value().limit == 5);
}

BOOST_AUTO_TEST_CASE(logged_targets_carry_no_secrets) {
    BOOST_TEST(loggable_target("/api/export/x/download?expires=1700000000&signature=abcdef") ==
               "/api/export/x/download?expires=1700000000&signature=REDACTED");
    BOOST_TEST(loggable_target("/o?X-Amz-Credential=AK%2F2024&X-Amz-Signature=ff&x-amz-security-token=t&a=1") ==
               "/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&x-amz-security-token=REDACTED&a=1");
    BOOST_TEST(loggable_target("/api/records?api_key=k&password=p&limit=3") ==
               "/api/records?api_key=REDACTED&password=REDACTED&limit=3");
    BOOST_TEST(loggable_target("/api/records?limit=3&category=books") == "/api/records?limit=3&category=books");
    BOOST_TEST(loggable_target("/api/export") == "/api/export");
    BOOST_TEST(loggable_target("/a?sig%6Eature=x") == "/a?sig%6Eature=REDACTED");
}
