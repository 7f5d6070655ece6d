#include "store/notification_listener.hpp"

#include "store/pg.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

asio::awaitable<void> async_listen(asio::any_io_executor executor, std::string database_url,
                                   std::chrono::milliseconds connect_timeout, std::string channel,
                                   std::function<void()> wake, const bool& stopping) {
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!stopping) {
        try {
            async_connection connection(executor);
            co_await connection.async_connect(database_url, std::chrono::milliseconds(0), connect_timeout);
            co_await connection.async_exec("LISTEN " + channel);
            wake(); // anything sent while we were not listening
            while (!stopping) {
                co_await connection.async_wait_notification();
                wake();
            }
        } catch (const std::exception&) {
            if (stopping)
                break;
        }
        asio::steady_timer backoff(executor, std::chrono::seconds(2));
        boost::system::error_code ec;
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace pgexport::engine::detail
