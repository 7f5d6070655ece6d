#pragma once
// A one-shot event for a single-threaded executor: set() once, async_wait() from any number of waiters.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgexport::engine::detail {

class event {
public:
    explicit event(boost::asio::any_io_executor ex) : timer_(ex, boost::asio::steady_timer::time_point::max()) {}
    void set() {
        set_ = true;
        timer_.cancel();
    }
    bool is_set() const { return set_; }
    boost::asio::awaitable<void> async_wait() {
        while (!set_) {
            boost::system::error_code ec;
            co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
    }

private:
    boost::asio::steady_timer timer_;
    bool set_ = false;
};

} // namespace pgexport::engine::detail
