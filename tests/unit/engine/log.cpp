// Log lines: the default format (plain decimals, the line's own keys first) and a sink of one's own.
#include <pgexport/log.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <mutex>
#include <vector>

using namespace pgexport;
namespace json = boost::json;

BOOST_AUTO_TEST_CASE(durations_are_plain_decimals) {
    const auto line = format_log_line("t", "info", "x", {{"ms", 0.326525}, {"big", 1234567.5}, {"tiny", 1e-9},
                                                          {"neg", -2.5}, {"n", 7}, {"inf", INFINITY}});
    BOOST_TEST(line == R"({"ts":"t","level":"info","event":"x","ms":0.326525,"big":1234567.5,"tiny":0,"neg":-2.5,"n":7,"inf":null})");
    BOOST_TEST(line.find('E') == std::string::npos);
    BOOST_TEST(json::parse(line).is_object()); // still JSON
}

BOOST_AUTO_TEST_CASE(fields_cannot_overwrite_the_line_keys_and_text_is_escaped) {
    const auto line = format_log_line("t", "info", "x", {{"event", "forged"}, {"msg", "a\"b\n"}});
    auto v = json::parse(line).as_object();
    BOOST_TEST(v.at("event").as_string() == "x");
    BOOST_TEST(v.at("msg").as_string() == "a\"b\n");
}

BOOST_AUTO_TEST_CASE(a_sink_receives_every_event_until_reset) {
    std::mutex m;
    std::vector<std::string> seen;
    set_log_sink([&](std::string_view level, std::string_view event, const json::object& fields) {
        std::lock_guard lock(m);
        seen.push_back(std::string(level) + " " + std::string(event) + " " + json::serialize(fields));
    });
    log_event("warning", "disk_low", {{"free", 12}});
    log_event("info", "job_completed");
    set_log_sink({});
    log_event("info", "not_seen_by_the_sink");
    BOOST_TEST(seen.size() == 2u);
    BOOST_TEST(seen[0] == R"(warning disk_low {"free":12})");
    BOOST_TEST(seen[1] == "info job_completed {}");
}
