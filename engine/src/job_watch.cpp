#include <pgexport/job_watch.hpp>

#include "runtime/job_watch_impl.hpp"

namespace pgexport::engine {

job_watch::job_watch(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
job_watch::job_watch(job_watch&&) noexcept = default;
job_watch& job_watch::operator=(job_watch&&) noexcept = default;
job_watch::~job_watch() = default;

boost::asio::awaitable<watch_outcome> job_watch::async_wait(std::chrono::steady_clock::duration timeout) {
    return impl_->subscription->async_wait(timeout);
}

} // namespace pgexport::engine
