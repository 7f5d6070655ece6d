// The route table: patterns, parameters, 404 against 405, and HEAD riding on GET.
#include "router.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;
using boost::beast::http::verb;

namespace {

router<int> table() {
    router<int> r;
    r.add("/healthz", {verb::get}, 1);
    r.add("/api/export", {verb::get}, 2);
    r.add("/api/export", {verb::post}, 3);
    r.add("/api/export/{id}", {verb::delete_}, 4);
    r.add("/api/export/{id}/status", {verb::get}, 5);
    return r;
}

using outcome = router<int>::match::outcome;

} // namespace

BOOST_AUTO_TEST_CASE(patterns_match_literally_and_capture_parameters) {
    BOOST_TEST(match_pattern("/healthz", "/healthz").has_value());
    BOOST_TEST(match_pattern("/healthz", "/healthz/").has_value()); // one trailing slash is ignored
    BOOST_TEST(!match_pattern("/healthz", "/healthz//").has_value());
    BOOST_TEST(!match_pattern("/healthz", "/healthzz").has_value());
    BOOST_TEST(!match_pattern("/healthz", "/health").has_value());
    BOOST_TEST(!match_pattern("/healthz", "/healthz/x").has_value());
    BOOST_TEST(!match_pattern("/api/export", "/api").has_value());
    auto p = match_pattern("/api/export/{id}/status", "/api/export/abc/status");
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST(p->size() == 1u);
    BOOST_TEST((*p)[0] == "abc");
    BOOST_TEST(!match_pattern("/api/export/{id}/status", "/api/export//status").has_value()); // empty
    BOOST_TEST(!match_pattern("/api/export/{id}", "/api/export/a/b").has_value());
    BOOST_TEST(!match_pattern("/api/export/{id}", "http://x/api/export/a").has_value()); // absolute form
}

BOOST_AUTO_TEST_CASE(a_known_path_with_another_verb_is_405_with_allow) {
    auto r = table();
    auto m = r.find("/api/export", verb::post);
    BOOST_TEST((m.kind == outcome::found));
    BOOST_TEST(m.found->handler == 3);
    m = r.find("/api/export", verb::get);
    BOOST_TEST(m.found->handler == 2);
    m = r.find("/api/export", verb::put);
    BOOST_TEST((m.kind == outcome::method_not_allowed));
    BOOST_TEST(m.allow == "GET, HEAD, POST");
    BOOST_TEST(m.pattern == "/api/export");
    m = r.find("/api/export/0b0c/status", verb::delete_);
    BOOST_TEST((m.kind == outcome::method_not_allowed));
    BOOST_TEST(m.allow == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(an_unknown_path_is_404) {
    auto r = table();
    BOOST_TEST((r.find("/api/exports", verb::get).kind == outcome::not_found));
    BOOST_TEST((r.find("/api/export/x/nothing", verb::get).kind == outcome::not_found));
    BOOST_TEST((r.find("", verb::get).kind == outcome::not_found));
}

BOOST_AUTO_TEST_CASE(head_is_served_by_get_routes_only) {
    auto r = table();
    auto m = r.find("/api/export/1/status", verb::head);
    BOOST_TEST((m.kind == outcome::found));
    BOOST_TEST(m.params.at(0) == "1");
    BOOST_TEST((r.find("/api/export/1", verb::head).kind == outcome::method_not_allowed));
}
