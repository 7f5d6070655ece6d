// --gentle's controller on recorded load traces: when it pauses, how long, how it backs off while the load
// stays high, and how fast it goes on once the load falls.

#include "pacing/load_throttle.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace pgexport::engine::detail;
using pgexport::engine::gentle_config;
using namespace std::chrono_literals;
using duration = load_throttle::duration;

namespace {

// Other sessions at work (active, or in a transaction) sampled every 100 ms with pgexport's own query while
// `pgbench -c 4 -j 2` (tpcb-like) ran on a 2-core machine, then after it ended.
const std::vector<int> pgbench_4_clients = {3, 3, 4, 4, 3, 3, 3, 3, 2, 3, 4, 4, 4, 4, 4, 3, 4, 4, 2,
                                            4, 3, 3, 4, 3, 4, 3, 3, 3, 3, 4, 3, 4, 4, 3, 3, 3, 3, 3,
                                            4, 2, 4, 3, 4, 3, 4, 4, 2, 4, 3, 2, 3, 4, 2, 4, 4, 3};
// A quiet application database: a request now and then (sampled the same way).
const std::vector<int> occasional_requests = {0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 1,
                                              0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0};

double ms(duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

load_sample sample(int sessions) {
    return load_sample{sessions};
}

} // namespace

BOOST_AUTO_TEST_SUITE(load_throttle_tests)

BOOST_AUTO_TEST_CASE(a_quiet_database_never_pauses_the_export) {
    load_throttle t{gentle_config{}};
    for (int s : occasional_requests) {
        BOOST_TEST_CONTEXT("sample " << s) {
            const auto d = t.after_chunk(50ms, 10000, sample(s));
            BOOST_TEST(ms(d.pause) == 0.0);
            BOOST_TEST(d.reason.empty());
        }
    }
    BOOST_TEST(t.share() == 1.0);
    BOOST_TEST(t.average_sessions() < 1.0);
}

BOOST_AUTO_TEST_CASE(sustained_load_backs_off_to_the_floor_and_no_further) {
    gentle_config c;
    c.min_share = 0.3;
    load_throttle t{c};
    std::vector<double> pauses;
    for (int s : pgbench_4_clients)
        pauses.push_back(ms(t.after_chunk(60ms, 10000, sample(s)).pause));
    // The average crosses one session on the second sample (4 clients: 3 at once), so the second chunk is
    // followed by a pause of its own length (share 1/2), the next ones by 60 * (1/0.3 - 1) = 140 ms.
    BOOST_TEST(pauses[0] == 0.0);
    BOOST_TEST(pauses[1] == 60.0, boost::test_tools::tolerance(1e-9));
    for (std::size_t i = 2; i < pauses.size(); ++i)
        BOOST_TEST_CONTEXT("chunk " << i) {
            BOOST_TEST(pauses[i] == 140.0, boost::test_tools::tolerance(1e-6));
        }
    BOOST_TEST(t.share() == 0.3);
    // The export ran 30 % of the time: it still finishes, at most 1/0.3 times slower.
    double ran = 0, paused = 0;
    for (double p : pauses) {
        ran += 60;
        paused += p;
    }
    BOOST_TEST(ran / (ran + paused) >= 0.3 - 0.01);
}

BOOST_AUTO_TEST_CASE(by_default_the_export_keeps_a_tenth_of_the_time_under_sustained_load) {
    load_throttle t{gentle_config{}};
    double ran = 0, paused = 0;
    for (int i = 0; i < 3; ++i)
        for (int s : pgbench_4_clients) {
            ran += 60;
            paused += ms(t.after_chunk(60ms, 10000, sample(s)).pause);
        }
    BOOST_TEST(t.share() == 0.1);
    BOOST_TEST(ran / (ran + paused) == 0.1, boost::test_tools::tolerance(0.05));
}

BOOST_AUTO_TEST_CASE(the_pause_is_longer_after_a_longer_chunk_and_capped) {
    gentle_config c;
    c.min_share = 0.3;
    c.max_pause = 1s;
    load_throttle t{c};
    for (int i = 0; i < 5; ++i)
        t.after_chunk(10ms, 10000, sample(4));
    BOOST_TEST(ms(t.after_chunk(100ms, 10000, sample(4)).pause) == 100 * (1 / 0.3 - 1),
               boost::test_tools::tolerance(1e-6));
    BOOST_TEST(ms(t.after_chunk(2s, 10000, sample(4)).pause) == 1000.0); // not 4.7 s
}

BOOST_AUTO_TEST_CASE(a_pause_ends_once_the_load_falls_and_the_share_comes_back) {
    gentle_config c;
    c.min_share = 0.3;
    load_throttle t{c};
    for (int s : pgbench_4_clients)
        t.after_chunk(60ms, 10000, sample(s));
    const auto d = t.after_chunk(60ms, 10000, sample(4));
    BOOST_TEST(d.pause > duration::zero());
    BOOST_TEST(d.reason.find("throttled: database busy") == 0u);
    // pgbench stops: its sessions vanish from the samples. The pause ends within a few samples, not at
    // its planned end.
    BOOST_TEST(!t.resume_now(sample(4)));
    int samples = 0;
    while (!t.resume_now(sample(0)))
        BOOST_TEST_REQUIRE(++samples < 10);
    BOOST_TEST(samples <= 5);
    BOOST_TEST(t.reason().empty());
    // Quiet chunks double the share: full speed again after two.
    BOOST_TEST(ms(t.after_chunk(60ms, 10000, sample(0)).pause) == 0.0);
    BOOST_TEST(t.share() == 0.6, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(ms(t.after_chunk(60ms, 10000, sample(0)).pause) == 0.0);
    BOOST_TEST(t.share() == 1.0);
    // When the load comes back, the back-off starts over from full speed.
    BOOST_TEST(ms(t.after_chunk(60ms, 10000, sample(4)).pause) == 60.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(t.share() == 0.5);
}

BOOST_AUTO_TEST_CASE(one_busy_moment_is_not_a_busy_database) {
    load_throttle t{gentle_config{}};
    // Three requests at once, once: the average stays under one session.
    BOOST_TEST(ms(t.after_chunk(50ms, 10000, sample(3)).pause) == 0.0);
    BOOST_TEST(ms(t.after_chunk(50ms, 10000, sample(0)).pause) == 0.0);
    // One other session always at work is at the default threshold, not over it.
    for (int i = 0; i < 50; ++i)
        BOOST_TEST(ms(t.after_chunk(50ms, 10000, sample(1)).pause) == 0.0);
    // Two are over it.
    int chunks = 0;
    while (ms(t.after_chunk(50ms, 10000, sample(2)).pause) == 0.0)
        BOOST_TEST_REQUIRE(++chunks < 10);
    BOOST_TEST(chunks <= 2);
}

BOOST_AUTO_TEST_CASE(the_threshold_is_a_setting) {
    gentle_config c;
    c.max_sessions = 4;
    load_throttle t{c};
    for (int s : pgbench_4_clients)
        BOOST_TEST(ms(t.after_chunk(60ms, 10000, sample(s)).pause) == 0.0);
    c.max_sessions = 0; // any other work at all
    load_throttle eager{c};
    BOOST_TEST(ms(eager.after_chunk(60ms, 10000, sample(1)).pause) > 0.0);
}

BOOST_AUTO_TEST_CASE(a_chunk_much_slower_than_the_fastest_pauses_even_without_sessions) {
    gentle_config c;
    c.min_share = 0.3;
    load_throttle t{c};
    BOOST_TEST(ms(t.after_chunk(50ms, 10000, sample(0)).pause) == 0.0);
    BOOST_TEST(ms(t.after_chunk(40ms, 10000, sample(0)).pause) == 0.0);  // the fastest: 4 us a row
    BOOST_TEST(ms(t.after_chunk(100ms, 10000, sample(0)).pause) == 0.0); // 2.5x: under the default 3
    // 12 us a row: 3x, busy (measured per row, a short chunk is no different).
    BOOST_TEST(ms(t.after_chunk(60ms, 5000, sample(0)).pause) == 60.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(t.share() == 0.5);
    const auto d = t.after_chunk(200ms, 10000, sample(0)); // 20 us a row: 5x
    BOOST_TEST(ms(d.pause) == 200 * (1 / 0.3 - 1), boost::test_tools::tolerance(1e-6));
    BOOST_TEST(d.reason.find("throttled: database slow (the last chunk took 5.0x") == 0u);
    // Quiet sessions do not end it early: only another chunk can tell whether the database is still slow.
    BOOST_TEST(!t.resume_now(sample(0)));
    BOOST_TEST(ms(t.after_chunk(40ms, 10000, sample(0)).pause) == 0.0);
}

BOOST_AUTO_TEST_CASE(the_slowdown_signal_can_be_turned_off) {
    gentle_config c;
    c.max_slowdown = 0;
    load_throttle t{c};
    t.after_chunk(10ms, 10000, sample(0));
    BOOST_TEST(ms(t.after_chunk(1s, 10000, sample(0)).pause) == 0.0);
    BOOST_TEST(ms(t.after_chunk(10ms, 0, sample(0)).pause) == 0.0); // an empty chunk measures nothing
}

BOOST_AUTO_TEST_SUITE_END()
