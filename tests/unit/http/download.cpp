// Which bytes a download sends: Range, If-Range against the ETag; the minimum reading rate.
#include "download.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(the_etag_is_strong_and_names_job_and_size) {
    const auto e = export_etag("0b0c7e1e-0000-4000-8000-000000000001", 255);
    BOOST_TEST(e == "\"0b0c7e1e-0000-4000-8000-000000000001-ff\"");
    BOOST_TEST(e != export_etag("0b0c7e1e-0000-4000-8000-000000000001", 256));
    BOOST_TEST(!e.starts_with("W/"));
}

BOOST_AUTO_TEST_CASE(if_range_with_our_etag_keeps_the_range) {
    const auto etag = export_etag("j", 1000);
    auto d = plan_download("bytes=100-", etag, etag, 1000);
    BOOST_TEST((d.kind == range_kind::partial));
    BOOST_TEST(d.range.first == 100u);
    BOOST_TEST(d.range.last == 999u);
}

BOOST_AUTO_TEST_CASE(if_range_with_anything_else_sends_the_whole_file) {
    const auto etag = export_etag("j", 1000);
    for (std::string_view other : {std::string_view("\"j-3e7\""), std::string_view("W/\"j-3e8\""),
                                   std::string_view("Tue, 15 Nov 1994 08:12:31 GMT"), std::string_view("")})
        BOOST_TEST((plan_download("bytes=100-", other, etag, 1000).kind == range_kind::whole), other);
    // An unsatisfiable range with a stale If-Range is also the whole file: the client's copy is not ours.
    BOOST_TEST((plan_download("bytes=5000-", "\"old\"", etag, 1000).kind == range_kind::whole));
    BOOST_TEST((plan_download("bytes=5000-", etag, etag, 1000).kind == range_kind::unsatisfiable));
}

BOOST_AUTO_TEST_CASE(if_range_without_range_is_ignored) {
    BOOST_TEST((plan_download(std::nullopt, "\"x\"", "\"y\"", 10).kind == range_kind::whole));
}

BOOST_AUTO_TEST_CASE(the_minimum_rate_counts_after_the_grace_period) {
    send_limits l;
    l.min_bytes_per_second = 1000;
    l.grace = 10s;
    BOOST_TEST(keeps_min_rate(l, 0, 9s));
    BOOST_TEST(keeps_min_rate(l, 0, 10s));
    BOOST_TEST(!keeps_min_rate(l, 0, 11s));
    BOOST_TEST(keeps_min_rate(l, 5000, 15s));
    BOOST_TEST(!keeps_min_rate(l, 4999, 15s));
}
