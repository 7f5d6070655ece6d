// The Range header: one bytes range is honoured, anything odd is ignored, past the end is 416.
#include "range.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;

namespace {
range_decision of(std::string_view h, std::uint64_t size = 1000) {
    return parse_range(h, size);
}
} // namespace

BOOST_AUTO_TEST_CASE(the_three_forms_of_a_bytes_range) {
    auto d = of("bytes=0-99");
    BOOST_TEST((d.kind == range_kind::partial));
    BOOST_TEST(d.range.length() == 100u);
    d = of("bytes=900-");
    BOOST_TEST(d.range.first == 900u);
    BOOST_TEST(d.range.last == 999u);
    d = of("bytes=-10");
    BOOST_TEST(d.range.first == 990u);
    d = of("bytes=990-5000"); // the end is clipped to the file
    BOOST_TEST(d.range.last == 999u);
}

BOOST_AUTO_TEST_CASE(no_range_or_a_malformed_one_sends_everything) {
    BOOST_TEST((parse_range(std::nullopt, 10).kind == range_kind::whole));
    for (std::string_view h : {"", "bytes", "bytes=", "bytes=a-b", "items=0-1", "bytes=5-1", "bytes=0-1,3-4", "bytes=--1"})
        BOOST_TEST((of(h).kind == range_kind::whole), h);
}

BOOST_AUTO_TEST_CASE(a_range_past_the_end_is_unsatisfiable) {
    BOOST_TEST((of("bytes=1000-").kind == range_kind::unsatisfiable));
    BOOST_TEST((parse_range("bytes=0-", 0).kind == range_kind::unsatisfiable));
    BOOST_TEST((of("bytes=-0").kind == range_kind::unsatisfiable));
}
