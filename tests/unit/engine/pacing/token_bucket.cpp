// --max-rate's token bucket, on a clock the test moves: bursts, debt, waits, the long-run rate.

#include "pacing/token_bucket.hpp"

#include <boost/test/unit_test.hpp>

using pgexport::engine::detail::default_burst;
using pgexport::engine::detail::token_bucket;
using namespace std::chrono_literals;
using clock_type = token_bucket::clock;

namespace {

double seconds(clock_type::duration d) {
    return std::chrono::duration<double>(d).count();
}

// Writes `total` bytes in rows of `row` bytes as the chunk sink does (take; when over, wait what the bucket
// says), each row costing `per_row` of work. Returns the time it took on the test's clock.
clock_type::duration write_through(token_bucket& bucket, clock_type::time_point& now, std::uint64_t total,
                                   std::uint64_t row, clock_type::duration per_row, int* waits = nullptr) {
    const auto start = now;
    for (std::uint64_t written = 0; written < total; written += row) {
        now += per_row;
        if (!bucket.take(row))
            continue;
        bool waited = false;
        // As the engine does: wait, then ask again (a wait rounded down may leave a hair to go).
        for (auto wait = bucket.wait_time(now); wait > clock_type::duration::zero();
             wait = bucket.wait_time(now)) {
            BOOST_TEST_REQUIRE(seconds(wait) < 3600);
            now += wait;
            waited = true;
        }
        if (waited && waits)
            ++*waits;
    }
    return now - start;
}

} // namespace

BOOST_AUTO_TEST_SUITE(token_bucket_tests)

BOOST_AUTO_TEST_CASE(a_full_bucket_lets_one_burst_through_then_asks_for_a_wait) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket bucket(1000, 100, t0);
    BOOST_TEST(!bucket.take(60));
    BOOST_TEST(!bucket.take(40)); // exactly the burst: not in debt
    BOOST_TEST(bucket.wait_time(t0) == clock_type::duration::zero());
    BOOST_TEST(bucket.take(1));
    // Debt of 1 token, and the wait lasts until half a burst (50) is saved: 51 tokens at 1000/s.
    BOOST_TEST(seconds(bucket.wait_time(t0)) == 0.051, boost::test_tools::tolerance(1e-6));
    // Time already passed counts: 30 ms later, 21 ms are left.
    BOOST_TEST(seconds(bucket.wait_time(t0 + 30ms)) == 0.021, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(bucket.wait_time(t0 + 51ms + 1us) == clock_type::duration::zero());
    BOOST_TEST(bucket.balance() == 50.001, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(idle_time_saves_up_one_burst_at_most) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket bucket(1000, 100, t0);
    BOOST_TEST(bucket.take(100 + 1000)); // a second's worth in debt
    BOOST_TEST(bucket.wait_time(t0 + 1h) == clock_type::duration::zero());
    BOOST_TEST(bucket.balance() == 100.0); // an hour idle is worth one burst, not 3.6 million tokens
    BOOST_TEST(!bucket.take(100));
    BOOST_TEST(bucket.take(1));
}

BOOST_AUTO_TEST_CASE(a_row_larger_than_the_burst_waits_for_its_bytes) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket bucket(1000, 100, t0);
    BOOST_TEST(bucket.take(5100));
    BOOST_TEST(seconds(bucket.wait_time(t0)) == 5.05, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(the_clock_going_nowhere_refills_nothing) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket bucket(1000, 100, t0);
    BOOST_TEST(bucket.take(150));
    const auto first = bucket.wait_time(t0);
    BOOST_TEST(bucket.wait_time(t0 - 1s) == first); // an earlier time (never from a steady clock) is ignored
}

BOOST_AUTO_TEST_CASE(the_long_run_rate_is_the_rate_whatever_the_rows) {
    // 50 MiB at 5 MiB/s: 10 s less the first burst, which goes through at once.
    const double rate = 5.0 * (1 << 20);
    struct item {
        std::uint64_t row;
        clock_type::duration per_row;
    };
    for (const item& it :
         {item{200, 0us}, item{200, 1us}, item{1, 0us}, item{64 << 10, 0us}, item{3 << 20, 0us}}) {
        BOOST_TEST_CONTEXT("rows of "
                           << it.row << " bytes, "
                           << std::chrono::duration_cast<std::chrono::microseconds>(it.per_row).count()
                           << " us of work each") {
            auto now = clock_type::time_point{} + 1h;
            token_bucket bucket(rate, default_burst(rate), now);
            int waits = 0;
            const std::uint64_t total = (50ull << 20) / it.row * it.row;
            const double took = seconds(write_through(bucket, now, total, it.row, it.per_row, &waits));
            // Every byte is paid for at the rate but the first burst and, at the end, the last row's (the
            // writer is done before it would wait for it); the bucket may end up to half a burst ahead.
            const double burst = default_burst(rate);
            const double fastest = (static_cast<double>(total) - burst - static_cast<double>(it.row)) / rate;
            const double slowest = (static_cast<double>(total) - burst / 2) / rate;
            BOOST_TEST(took >= fastest * 0.999);
            BOOST_TEST(took <= slowest * 1.001);
            BOOST_TEST_MESSAGE("rows of " << it.row << " B: " << took << " s for " << total << " B");
            // Waits come once per half burst (50 ms at this rate), not once per row.
            BOOST_TEST(waits <= static_cast<int>(static_cast<double>(total) / (default_burst(rate) / 2)) + 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(slow_work_is_never_held_back) {
    // A reader slower than the rate (10 KiB rows, 10 ms each: 1 MiB/s against 5 MiB/s) never waits.
    const double rate = 5.0 * (1 << 20);
    auto now = clock_type::time_point{} + 1h;
    token_bucket bucket(rate, default_burst(rate), now);
    int waits = 0;
    const auto took = write_through(bucket, now, 10ull << 20, 10 << 10, 10ms, &waits);
    BOOST_TEST(waits == 0);
    BOOST_TEST(seconds(took) == 10.24, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(the_default_burst_is_a_tenth_of_a_second_with_a_floor) {
    BOOST_TEST(default_burst(5.0 * (1 << 20)) == 0.5 * (1 << 20));
    BOOST_TEST(default_burst(1024) == 16.0 * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
