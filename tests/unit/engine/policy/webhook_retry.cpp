// What a webhook try leads to: delivered, stopped, or tried again after a jittered exponential delay within
// the retry window. No I/O.

#include "policy/webhook_retry.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace pgexport::engine::detail;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

const webhook_retry_config config{24h, 1s, 1h};

} // namespace

BOOST_AUTO_TEST_SUITE(webhook_retry)

BOOST_AUTO_TEST_CASE(answers) {
    struct item {
        std::optional<long> status;
        webhook_verdict verdict;
    };
    const item cases[] = {
        {200, webhook_verdict::delivered}, {201, webhook_verdict::delivered}, {204, webhook_verdict::delivered},
        {299, webhook_verdict::delivered}, {410, webhook_verdict::stop},      {400, webhook_verdict::retry},
        {404, webhook_verdict::retry},     {429, webhook_verdict::retry},     {500, webhook_verdict::retry},
        {503, webhook_verdict::retry},     {301, webhook_verdict::retry},     {302, webhook_verdict::retry},
        {199, webhook_verdict::retry},     {300, webhook_verdict::retry},     {std::nullopt, webhook_verdict::retry},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("status " << (c.status ? std::to_string(*c.status) : "none")) {
            const auto d = decide_webhook({c.status}, 1, 0ms, config, 0.5);
            BOOST_TEST(static_cast<int>(d.verdict) == static_cast<int>(c.verdict));
            if (c.verdict == webhook_verdict::stop)
                BOOST_TEST(d.reason.find("410") != std::string::npos);
        }
    }
    // A 2xx and a 410 count even past the window: the try was made.
    BOOST_TEST(static_cast<int>(decide_webhook({200}, 9, 48h, config, 0.5).verdict) ==
               static_cast<int>(webhook_verdict::delivered));
}

BOOST_AUTO_TEST_CASE(backoff_doubles_within_its_jitter) {
    // The n-th try's delay lies in [0.5, 1) of first_delay * 2^(n-1), capped at max_delay.
    for (int attempts = 1; attempts <= 20; ++attempts) {
        const double full = std::min(1000.0 * std::pow(2.0, attempts - 1), 3600.0 * 1000);
        BOOST_TEST_CONTEXT("try " << attempts) {
            const auto low = decide_webhook({503}, attempts, 1min, config, 0.0);
            const auto high = decide_webhook({503}, attempts, 1min, config, 0.999999);
            BOOST_TEST(static_cast<int>(low.verdict) == static_cast<int>(webhook_verdict::retry));
            BOOST_TEST(low.delay.count() == static_cast<long>(full * 0.5));
            BOOST_TEST(high.delay.count() >= static_cast<long>(full * 0.999));
            BOOST_TEST(high.delay.count() < static_cast<long>(full));
        }
    }
    // Past the cap it stays there, however many tries (no overflow).
    BOOST_TEST(decide_webhook({std::nullopt}, 1000, 1min, config, 0.0).delay == milliseconds(1800 * 1000));
    BOOST_TEST(decide_webhook({std::nullopt}, 1'000'000, 1min, config, 0.0).delay == milliseconds(1800 * 1000));
}

BOOST_AUTO_TEST_CASE(the_window) {
    // A delay that would pass the window's end is cut to it: the last try is made at the end.
    const auto near_end = decide_webhook({500}, 12, 24h - 5s, config, 0.9);
    BOOST_TEST(static_cast<int>(near_end.verdict) == static_cast<int>(webhook_verdict::retry));
    BOOST_TEST(near_end.delay == milliseconds(5000));
    // At or past the end, no more.
    for (const auto age : {milliseconds(24h), milliseconds(24h + 1ms), milliseconds(100h)}) {
        const auto d = decide_webhook({500}, 13, age, config, 0.5);
        BOOST_TEST(static_cast<int>(d.verdict) == static_cast<int>(webhook_verdict::stop));
        BOOST_TEST(d.reason.find("gave up after 13 tries") != std::string::npos);
    }
    BOOST_TEST(decide_webhook({std::nullopt}, 1, 25h, config, 0.5).reason.find("1 try ") != std::string::npos);
    // A short window (--webhook-retry-for 10s): the first delay already fits, the third not.
    const webhook_retry_config short_window{10s, 1s, 1h};
    BOOST_TEST(decide_webhook({500}, 1, 0ms, short_window, 0.0).delay == 500ms);
    BOOST_TEST(decide_webhook({500}, 4, 7s, short_window, 0.999).delay == 3s);
}

BOOST_AUTO_TEST_SUITE_END()
