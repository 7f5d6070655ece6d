// The job's decisions: resume plans, failure classes, retry schedules. No I/O.

#include "policy/job_policy.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>

using namespace pgexport::engine::detail;
using namespace std::chrono_literals;

namespace pgexport::engine::detail {
std::ostream& operator<<(std::ostream& out, resume_action a) {
    const char* names[] = {"start", "resume", "restart", "finish"};
    return out << names[static_cast<int>(a)];
}
std::ostream& operator<<(std::ostream& out, failure_class c) {
    return out << to_string(c);
}
} // namespace pgexport::engine::detail

BOOST_AUTO_TEST_SUITE(job_policy)

BOOST_AUTO_TEST_CASE(every_resume_case) {
    constexpr std::int64_t absent = -1;
    struct item {
        std::int64_t checkpoint, part, final;
        resume_action action;
        const char* what;
    };
    const item cases[] = {
        {0, absent, absent, resume_action::start, "a new job"},
        {0, 0, absent, resume_action::start, "an empty partial file, no checkpoint"},
        {0, 5000, absent, resume_action::start, "bytes past no checkpoint are not vouched for"},
        {1200, 1200, absent, resume_action::resume, "the file ends at the checkpoint"},
        {1200, 9000, absent, resume_action::resume, "bytes after the checkpoint are cut"},
        {1200, 1199, absent, resume_action::restart, "the file lost vouched-for bytes"},
        {1200, absent, absent, resume_action::restart, "the partial file is gone"},
        {1200, absent, 5000, resume_action::finish, "renamed, completion not recorded"},
        {1200, absent, 1200, resume_action::finish, "renamed right after the last checkpoint"},
        {0, absent, 57, resume_action::finish, "an empty selection (header only) was renamed"},
        {1200, absent, 100, resume_action::restart, "a finished file shorter than its checkpoint"},
        {1200, 1300, 5000, resume_action::resume, "a partial file wins over a stale final one"},
        {0, 0, 5000, resume_action::start, "a new attempt over a stale final file"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            const resume_plan plan = plan_resume({c.checkpoint}, {c.part, c.final});
            BOOST_TEST(plan.action == c.action);
            BOOST_TEST(plan.reason.empty() == (c.action != resume_action::restart));
        }
    }
}

BOOST_AUTO_TEST_CASE(sqlstates_by_class) {
    struct item {
        const char* sqlstate;
        failure_class expected;
    };
    const item cases[] = {
        {"", failure_class::unavailable},      {"08006", failure_class::unavailable},
        {"08001", failure_class::unavailable}, {"57P01", failure_class::unavailable},
        {"57P03", failure_class::unavailable}, {"53300", failure_class::unavailable},
        {"53100", failure_class::transient},   {"53200", failure_class::transient},
        {"40001", failure_class::transient},   {"40P01", failure_class::transient},
        {"57014", failure_class::transient},   {"42703", failure_class::permanent},
        {"42601", failure_class::permanent},   {"22P02", failure_class::permanent},
        {"23505", failure_class::permanent},   {"XX000", failure_class::permanent},
        {"42501", failure_class::permanent},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT("SQLSTATE '" << c.sqlstate << "'") {
            BOOST_TEST(classify_sqlstate(c.sqlstate) == c.expected);
        }
}

BOOST_AUTO_TEST_CASE(errnos_by_class) {
    for (int e : {EMFILE, ENFILE, EAGAIN, EINTR, ENOMEM})
        BOOST_TEST(classify_errno(e) == failure_class::transient, "errno " << e);
    for (int e : {ENOSPC, EDQUOT})
        BOOST_TEST(classify_errno(e) == failure_class::no_space, "errno " << e);
    for (int e : {EFBIG, EROFS, EACCES, EIO, ENOENT, EPERM, ELOOP})
        BOOST_TEST(classify_errno(e) == failure_class::permanent, "errno " << e);
}

BOOST_AUTO_TEST_CASE(a_full_disk_never_gives_up) {
    // The job waits for space as it waits for the database: it neither fails nor uses up the budget.
    const retry_policy policy{250ms, 5s, 2};
    std::chrono::milliseconds previous{0};
    for (int n = 1; n <= 1000; ++n) {
        const auto d = decide_retry(policy, failure_class::no_space, n);
        BOOST_TEST_REQUIRE(!d.give_up, "gave up after " << n << " failures");
        BOOST_TEST_REQUIRE(d.delay >= previous);
        previous = d.delay;
    }
    BOOST_TEST(previous == 5s);
}

BOOST_AUTO_TEST_CASE(availability_failures_never_give_up) {
    const retry_policy policy{500ms, 30s, 8};
    std::chrono::milliseconds previous{0};
    for (int n = 1; n <= 10000; n = n < 100 ? n + 1 : n * 2) {
        const auto d = decide_retry(policy, failure_class::unavailable, n);
        BOOST_TEST_REQUIRE(!d.give_up, "gave up after " << n << " failures");
        BOOST_TEST(d.delay >= previous); // never shorter than the one before
        BOOST_TEST(d.delay <= 30s);
        previous = d.delay;
    }
    BOOST_TEST(previous == 30s); // the ceiling is reached and held
}

BOOST_AUTO_TEST_CASE(the_delay_doubles_up_to_the_ceiling) {
    const retry_policy policy{500ms, 30s, 100};
    const std::chrono::milliseconds expected[] = {500ms, 1000ms, 2000ms, 4000ms, 8000ms,
                                                  16000ms, 30000ms, 30000ms};
    for (int n = 1; n <= 8; ++n)
        BOOST_TEST(decide_retry(policy, failure_class::transient, n).delay.count() == expected[n - 1].count(),
                   "failure " << n);
}

BOOST_AUTO_TEST_CASE(transient_failures_give_up_after_the_budget) {
    const retry_policy policy{500ms, 30s, 3};
    BOOST_TEST(!decide_retry(policy, failure_class::transient, 1).give_up);
    BOOST_TEST(!decide_retry(policy, failure_class::transient, 2).give_up);
    BOOST_TEST(decide_retry(policy, failure_class::transient, 3).give_up);
    BOOST_TEST(decide_retry(policy, failure_class::permanent, 1).give_up);
}

BOOST_AUTO_TEST_CASE(jitter_takes_at_most_a_quarter_off) {
    const retry_policy policy{1000ms, 30s, 8};
    BOOST_TEST(decide_retry(policy, failure_class::unavailable, 1, 0.0).delay.count() == 1000);
    BOOST_TEST(decide_retry(policy, failure_class::unavailable, 1, 0.5).delay.count() == 875);
    BOOST_TEST(decide_retry(policy, failure_class::unavailable, 1, 0.999).delay.count() > 750);
    BOOST_TEST(decide_retry(policy, failure_class::unavailable, 1, 7.0).delay.count() == 750); // clamped
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lease)

using clock = lease_tracker::clock;

BOOST_AUTO_TEST_CASE(a_lease_is_held_for_its_length_from_when_the_claim_was_sent) {
    const auto t0 = clock::time_point{} + 1h;
    lease_tracker lease(15s, t0);
    BOOST_TEST((lease.at(t0) == lease_verdict::held));
    BOOST_TEST((lease.at(t0 + 14999ms) == lease_verdict::held));
    BOOST_TEST((lease.at(t0 + 15s) == lease_verdict::unsure));
}

BOOST_AUTO_TEST_CASE(renewals_count_from_when_they_were_sent_never_from_their_answer) {
    const auto t0 = clock::time_point{} + 1h;
    lease_tracker lease(15s, t0);
    // Sent at 10 s, answered (slowly) at 20 s: proves the lease until 25 s, not 35 s.
    BOOST_TEST((lease.answered(lease_state::held, t0 + 10s) == lease_verdict::held));
    BOOST_TEST((lease.at(t0 + 20s) == lease_verdict::held));
    BOOST_TEST((lease.at(t0 + 25s) == lease_verdict::unsure));
    // An older renewal answered late does not shorten what a newer one proved.
    lease.answered(lease_state::held, t0 + 5s);
    BOOST_TEST((lease.confirmed_until() == t0 + 25s));
    // Unsure is not final: an answer confirms the lease again.
    BOOST_TEST((lease.answered(lease_state::held, t0 + 30s) == lease_verdict::held));
    BOOST_TEST((lease.at(t0 + 31s) == lease_verdict::held));
}

BOOST_AUTO_TEST_CASE(cancelled_and_lost_are_final) {
    const auto t0 = clock::time_point{} + 1h;
    struct item {
        lease_state found;
        lease_verdict verdict;
    };
    for (const item& c : {item{lease_state::cancelled, lease_verdict::cancelled},
                          item{lease_state::lost, lease_verdict::lost}}) {
        lease_tracker lease(15s, t0);
        BOOST_TEST((lease.answered(c.found, t0 + 1s) == c.verdict));
        BOOST_TEST((lease.at(t0 + 2s) == c.verdict)); // within the lease's time, still over
        // A renewal that was in flight and answers `held` afterwards changes nothing.
        BOOST_TEST((lease.answered(lease_state::held, t0 + 3s) == c.verdict));
        BOOST_TEST((lease.at(t0 + 100s) == c.verdict));
    }
}

BOOST_AUTO_TEST_CASE(renewal_interval_is_a_third_of_the_lease_between_20_ms_and_a_second) {
    const auto t0 = clock::time_point{};
    struct item {
        std::chrono::milliseconds lease, interval;
    };
    for (const item& c : {item{15s, 1000ms}, item{3s, 1000ms}, item{2s, 666ms}, item{300ms, 100ms},
                          item{30ms, 20ms}, item{std::chrono::hours(24 * 7), 1000ms}}) {
        BOOST_TEST(lease_tracker(c.lease, t0).renewal_interval().count() == c.interval.count());
    }
}

BOOST_AUTO_TEST_SUITE_END()
