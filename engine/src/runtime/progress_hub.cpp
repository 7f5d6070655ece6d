#include "runtime/progress_hub.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <utility>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

std::unique_ptr<progress_subscription> progress_hub::subscribe(const std::shared_ptr<progress_hub>& hub,
                                                               std::string id) {
    return std::make_unique<progress_subscription>(hub, std::move(id));
}

void progress_hub::notify(const std::string& id) {
    auto [first, last] = followers_.equal_range(id);
    for (auto it = first; it != last; ++it)
        it->second->wake();
}

void progress_hub::notify_all() {
    for (auto& [id, follower] : followers_)
        follower->wake();
}

void progress_hub::stop() {
    stopped_ = true;
    for (auto& [id, follower] : followers_)
        follower->wake();
}

progress_subscription::progress_subscription(std::shared_ptr<progress_hub> hub, std::string id)
    : hub_(std::move(hub)), timer_(hub_->executor_) {
    entry_ = hub_->followers_.emplace(std::move(id), this);
}

progress_subscription::~progress_subscription() {
    hub_->followers_.erase(entry_);
}

void progress_subscription::wake() {
    changed_ = true;
    timer_.cancel();
}

asio::awaitable<watch_outcome> progress_subscription::async_wait(std::chrono::steady_clock::duration timeout) {
    timer_.expires_after(timeout);
    while (!changed_ && !hub_->stopped()) {
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)
            break; // the time is up
        // Woken (changed_ or stopped tell), or the awaiting coroutine itself was cancelled.
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
    }
    if (hub_->stopped())
        co_return watch_outcome::stopping;
    if (std::exchange(changed_, false))
        co_return watch_outcome::changed;
    co_return watch_outcome::timed_out;
}

} // namespace pgexport::engine::detail
