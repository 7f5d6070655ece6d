#pragma once
// The engine's notices of job changes to the coroutines that follow them (job_watch). The job's parts
// call notify() after each checkpoint and each change of state; a follower's subscription remembers that
// it was notified until it next waits. Single-threaded: the engine's executor only.

#include <pgexport/job_watch.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>

namespace pgexport::engine::detail {

class progress_subscription;

class progress_hub {
public:
    explicit progress_hub(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

    // A follower of job `id`, subscribed until it is destroyed. The subscription keeps the hub alive.
    static std::unique_ptr<progress_subscription> subscribe(const std::shared_ptr<progress_hub>& hub,
                                                            std::string id);

    // Wakes every follower of job `id`; costs a map look-up when there is none.
    void notify(const std::string& id);
    // Wakes every follower (changes may have been missed: the listener reconnected).
    void notify_all();

    // The engine shuts down: wakes every follower, and every later wait returns stopping at once.
    void stop();
    bool stopped() const { return stopped_; }

    std::size_t followers() const { return followers_.size(); }

private:
    friend class progress_subscription;

    boost::asio::any_io_executor executor_;
    std::multimap<std::string, progress_subscription*> followers_;
    bool stopped_ = false;
};

class progress_subscription {
public:
    progress_subscription(std::shared_ptr<progress_hub> hub, std::string id);
    ~progress_subscription();
    progress_subscription(const progress_subscription&) = delete;
    progress_subscription& operator=(const progress_subscription&) = delete;

    boost::asio::awaitable<watch_outcome> async_wait(std::chrono::steady_clock::duration timeout);

private:
    friend class progress_hub;
    void wake();

    std::shared_ptr<progress_hub> hub_;
    std::multimap<std::string, progress_subscription*>::iterator entry_;
    boost::asio::steady_timer timer_;
    bool changed_ = false;
};

} // namespace pgexport::engine::detail
