// The engine's notices to a job's followers (job_watch): a notice is kept until the next wait, waits time
// out, shutting down wakes everyone, and a cancelled follower stops waiting.
#include "runtime/progress_hub.hpp"

#include "test_support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

using namespace pgexport::engine;
using namespace pgexport::engine::detail;
using namespace std::chrono_literals;
namespace asio = boost::asio;

BOOST_AUTO_TEST_CASE(a_notice_before_the_wait_is_not_lost_and_others_jobs_do_not_wake) {
    asio::io_context io;
    auto hub = std::make_shared<progress_hub>(io.get_executor());
    auto a = progress_hub::subscribe(hub, "a");
    auto b = progress_hub::subscribe(hub, "b");
    hub->notify("a");
    hub->notify("c"); // nobody follows c
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(10s); }) == watch_outcome::changed));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
    // The notice was used up; b never had one.
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(20ms); }) == watch_outcome::timed_out));
    BOOST_TEST((pgexport::test::run(io, [&] { return b->async_wait(20ms); }) == watch_outcome::timed_out));
    BOOST_TEST(hub->followers() == 2u);
    b.reset();
    BOOST_TEST(hub->followers() == 1u);
}

BOOST_AUTO_TEST_CASE(a_notice_wakes_a_waiting_follower) {
    asio::io_context io;
    auto hub = std::make_shared<progress_hub>(io.get_executor());
    auto a = progress_hub::subscribe(hub, "a");
    asio::post(io, [&] { hub->notify("a"); }); // runs once the wait below has started
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(10s); }) == watch_outcome::changed));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
}

BOOST_AUTO_TEST_CASE(stopping_wakes_every_follower_and_every_later_wait) {
    asio::io_context io;
    auto hub = std::make_shared<progress_hub>(io.get_executor());
    auto a = progress_hub::subscribe(hub, "a");
    asio::post(io, [&] { hub->stop(); });
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(10s); }) == watch_outcome::stopping));
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(10s); }) == watch_outcome::stopping));
}

BOOST_AUTO_TEST_CASE(a_cancelled_follower_stops_waiting) {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context io;
    auto hub = std::make_shared<progress_hub>(io.get_executor());
    auto a = progress_hub::subscribe(hub, "a");
    auto race = [&]() -> asio::awaitable<std::size_t> {
        asio::steady_timer t(io, 10ms);
        auto r = co_await (a->async_wait(10s) || t.async_wait(asio::use_awaitable));
        co_return r.index();
    };
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(pgexport::test::run(io, race) == 1u);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
}

BOOST_AUTO_TEST_CASE(a_subscription_keeps_the_hub_alive) {
    asio::io_context io;
    auto hub = std::make_shared<progress_hub>(io.get_executor());
    auto a = progress_hub::subscribe(hub, "a");
    std::weak_ptr<progress_hub> weak = hub;
    hub.reset(); // the engine went away first
    BOOST_TEST(!weak.expired());
    BOOST_TEST((pgexport::test::run(io, [&] { return a->async_wait(10ms); }) == watch_outcome::timed_out));
    a.reset();
    BOOST_TEST(weak.expired());
}
