// Concurrent identical questions share one answer, and no caller gets an answer read before it asked.
#include "util/coalescer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <vector>

using namespace pgexport::engine::detail;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A question whose answer is the number of the round that read it, and which takes a while.
struct counter_source {
    asio::io_context& io;
    int started = 0;
    int running = 0;
    int most_at_once = 0;
    bool fail = false;

    asio::awaitable<int> fetch() {
        const int round = ++started;
        most_at_once = std::max(most_at_once, ++running);
        asio::steady_timer t(io, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        --running;
        if (fail)
            throw std::runtime_error("the database is away");
        co_return round;
    }
};

struct caller {
    int asked_after_round = 0; // rounds started before the call
    int answer = 0;
    bool failed = false;
};

asio::awaitable<void> ask(coalescer<int>& c, counter_source& source, caller& me) {
    me.asked_after_round = source.started;
    try {
        auto answer = co_await c.async_get([&source] { return source.fetch(); });
        me.answer = *answer;
    } catch (const std::runtime_error&) {
        me.failed = true;
    }
}

// A coroutine's exception reaches io.run() and fails the test.
void rethrow(std::exception_ptr e) {
    if (e)
        std::rethrow_exception(e);
}

} // namespace

BOOST_AUTO_TEST_CASE(callers_at_once_share_rounds_and_every_answer_was_read_after_its_question) {
    asio::io_context io;
    coalescer<int> c(io.get_executor());
    counter_source source{io};
    std::vector<caller> callers(10);
    for (auto& me : callers)
        asio::co_spawn(io, ask(c, source, me), rethrow);
    // Three more arrive while the first round is in flight: they cannot use it.
    asio::steady_timer later(io, 5ms);
    std::vector<caller> late(3);
    later.async_wait([&](auto) {
        for (auto& me : late)
            asio::co_spawn(io, ask(c, source, me), rethrow);
    });
    io.run();
    // The first caller found nothing running and led round 1 at once. The nine after it, and the late
    // three, asked while round 1 ran: round 1 might have read before they asked, so they share round 2.
    BOOST_TEST(callers.front().answer == 1);
    for (std::size_t i = 1; i < callers.size(); ++i)
        BOOST_TEST(callers[i].answer == 2);
    for (const auto& me : late)
        BOOST_TEST(me.answer == 2);
    for (const auto& me : callers)
        BOOST_TEST(me.answer > me.asked_after_round);
    for (const auto& me : late)
        BOOST_TEST(me.answer > me.asked_after_round);
    BOOST_TEST(source.started == 2);
    BOOST_TEST(source.most_at_once == 1);
    BOOST_TEST(c.rounds() == 2u);
    BOOST_TEST(c.idle());
}

BOOST_AUTO_TEST_CASE(a_caller_after_a_round_ended_gets_a_new_round) {
    asio::io_context io;
    coalescer<int> c(io.get_executor());
    counter_source source{io};
    caller first, second;
    asio::co_spawn(io, ask(c, source, first), rethrow);
    io.run();
    io.restart();
    asio::co_spawn(io, ask(c, source, second), rethrow);
    io.run();
    BOOST_TEST(first.answer == 1);
    BOOST_TEST(second.answer == 2);
}

BOOST_AUTO_TEST_CASE(a_failed_round_fails_its_callers_only) {
    asio::io_context io;
    coalescer<int> c(io.get_executor());
    counter_source source{io};
    source.fail = true;
    std::vector<caller> callers(4);
    for (auto& me : callers)
        asio::co_spawn(io, ask(c, source, me), rethrow);
    io.run();
    for (const auto& me : callers)
        BOOST_TEST(me.failed);
    io.restart();
    source.fail = false;
    caller after;
    asio::co_spawn(io, ask(c, source, after), rethrow);
    io.run();
    BOOST_TEST(!after.failed);
    BOOST_TEST(after.answer == 3); // rounds 1 and 2 failed
    BOOST_TEST(c.idle());
}
