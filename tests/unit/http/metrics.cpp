// The /metrics text: every family described once, counts as given, labels escaped.
#include "metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>

using namespace pgexport::http;
using pgexport::engine::job_status;

BOOST_AUTO_TEST_CASE(job_counts_and_stats_appear_with_zero_for_missing_statuses) {
    metrics_input in;
    in.jobs_by_status = {{job_status::completed, 7}, {job_status::running, 2}};
    in.engine.rows_exported = 123456789012;
    in.engine.chunks = 3;
    in.engine.chunk_seconds_le = {0, 1, 2, 3, 3, 3, 3, 3};
    in.running_here = 2;
    in.open_connections = 5;
    const auto text = format_metrics(in);
    BOOST_TEST(text.find("pgexport_jobs{status=\"completed\"} 7\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_jobs{status=\"queued\"} 0\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_rows_exported_total 123456789012\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_chunk_duration_seconds_bucket{le=\"0.01\"} 1\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_chunk_duration_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_http_connections 5\n") != std::string::npos);
    // Each family has exactly one HELP and one TYPE line.
    std::regex help("^# HELP (\\S+) ", std::regex::multiline);
    std::set<std::string> seen;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), help); it != std::sregex_iterator(); ++it)
        BOOST_TEST(seen.insert((*it)[1]).second, "twice: " << (*it)[1]);
    BOOST_TEST(seen.size() >= 8u);
}

BOOST_AUTO_TEST_CASE(request_labels_are_escaped) {
    metrics_input in;
    in.requests[{"/a\"b\\c\nd", 404}] = 2;
    const auto text = format_metrics(in);
    BOOST_TEST(text.find("pgexport_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",code=\"404\"} 2\n") !=
               std::string::npos);
    BOOST_TEST(escape_label("plain") == "plain");
}

BOOST_AUTO_TEST_CASE(throttled_time_by_cause) {
    metrics_input in;
    in.engine.throttled_seconds_max_rate = 12.5;
    in.engine.throttled_seconds_gentle = 3.25;
    const auto text = format_metrics(in);
    BOOST_TEST(text.find("# TYPE pgexport_throttled_seconds_total counter\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_throttled_seconds_total{cause=\"max_rate\"} 12.5\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_throttled_seconds_total{cause=\"gentle\"} 3.25\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(replica_wait_time) {
    metrics_input in;
    in.engine.replica_wait_seconds = 7.5;
    const auto text = format_metrics(in);
    BOOST_TEST(text.find("# TYPE pgexport_replica_wait_seconds_total counter\n") != std::string::npos);
    BOOST_TEST(text.find("pgexport_replica_wait_seconds_total 7.5\n") != std::string::npos);
}
