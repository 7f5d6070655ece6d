#include <pgexport/job_watch.hpp>

#include "runtime/progress_hub.hpp"

namespace pgexport::engine {

job_watch::job_watch(std::unique_ptr<detail::progress_subscription> subscription)
    : subscription_(std::move(subscription)) {}
job_watch::job_watch(job_watch&&) noexcept = default;
job_watch& job_watch::operator=(job_watch&&) noexcept = default;
job_watch::~job_watch() = default;

boost::asio::awaitable<watch_outcome> job_watch::async_wait(std::chrono::steady_clock::duration timeout) {
    return subscription_->async_wait(timeout);
}

} // namespace pgexport::engine
