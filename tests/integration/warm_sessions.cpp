// The rows' sessions kept warm between streams (store/warm_sessions.hpp), against a real server: a session
// given back is the one taken next (same backend), and one that cannot run a statement now is never handed
// out: ended by the server, left in a transaction, cancelled, idle for too long, or for another URL.

#include "store/warm_sessions.hpp"

#include "test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace asio = boost::asio;
using namespace pgexport::engine::detail;
using namespace std::chrono_literals;
using pgexport::test::scratch_database;

namespace {

struct fixture {
    asio::io_context io;
    scratch_database db;

    std::unique_ptr<async_connection> connect() {
        return pgexport::test::run(io, [this]() -> asio::awaitable<std::unique_ptr<async_connection>> {
            auto c = std::make_unique<async_connection>(io.get_executor());
            co_await c->async_connect(db.url(), 0ms, 10s);
            co_return c;
        });
    }
    std::string pid_of(async_connection& c) {
        return pgexport::test::run(io, [&c]() -> asio::awaitable<std::string> {
            auto r = co_await c.async_query("SELECT pg_backend_pid()");
            co_return *get_text(r.get(), 0, 0);
        });
    }
    void exec(async_connection& c, const std::string& sql) {
        pgexport::test::run(io, [&c, sql]() -> asio::awaitable<void> { co_await c.async_exec(sql); });
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(warm_sessions_against_a_server, fixture)

BOOST_AUTO_TEST_CASE(the_session_given_back_is_taken_again) {
    warm_sessions warm(2, 30s);
    auto c = connect();
    const std::string pid = pid_of(*c);
    warm.give_back(db.url(), std::move(c));
    BOOST_TEST(warm.size() == 1u);
    BOOST_TEST(!warm.take(db.url() + " application_name=other")); // another URL's: not this one
    auto again = warm.take(db.url());
    BOOST_TEST_REQUIRE(static_cast<bool>(again));
    BOOST_TEST(pid_of(*again) == pid);
    BOOST_TEST(warm.size() == 0u);
    BOOST_TEST(!warm.take(db.url()));
}

BOOST_AUTO_TEST_CASE(a_session_the_server_ended_is_not_handed_out) {
    warm_sessions warm(2, 30s);
    auto c = connect();
    const std::string pid = pid_of(*c);
    warm.give_back(db.url(), std::move(c));
    db.query("SELECT pg_terminate_backend(" + pid + ")");
    // The backend is gone once pg_stat_activity no longer shows it; its socket then reads the end.
    for (int i = 0; i < 500 && db.query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid).at(0) != "0"; ++i)
        std::this_thread::sleep_for(10ms);
    BOOST_TEST(!warm.take(db.url()));
    BOOST_TEST(warm.size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_session_in_a_transaction_or_cancelled_is_closed_not_kept) {
    warm_sessions warm(2, 30s);
    auto in_transaction = connect();
    exec(*in_transaction, "BEGIN");
    warm.give_back(db.url(), std::move(in_transaction));
    auto cancelled = connect();
    cancelled->cancel();
    warm.give_back(db.url(), std::move(cancelled));
    BOOST_TEST(warm.size() == 0u);
}

BOOST_AUTO_TEST_CASE(at_most_capacity_and_never_older_than_max_idle) {
    warm_sessions warm(2, 30s);
    auto first = connect();
    const std::string first_pid = pid_of(*first);
    warm.give_back(db.url(), std::move(first));
    warm.give_back(db.url(), connect());
    warm.give_back(db.url(), connect()); // the oldest (first) makes room
    BOOST_TEST(warm.size() == 2u);
    while (auto c = warm.take(db.url()))
        BOOST_TEST(pid_of(*c) != first_pid);

    warm.give_back(db.url(), connect());
    warm.close_idle(warm_sessions::clock::now() + 29s);
    BOOST_TEST(warm.size() == 1u);
    warm.close_idle(warm_sessions::clock::now() + 31s);
    BOOST_TEST(warm.size() == 0u);

    warm_sessions none(2, 0ms); // zero: nothing kept
    none.give_back(db.url(), connect());
    BOOST_TEST(none.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
