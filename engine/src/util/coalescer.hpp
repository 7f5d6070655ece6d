#pragma once
// Callers that ask the same question at the same time share one answer, and never an old one. A caller
// joins the round that has not started yet; that round starts when the one in flight ends, so every
// answer was read after its caller asked (a client that just created a job sees it in the list). At
// most one round runs at a time: under load, a question costs one query per query-time, not one per
// caller. For a single-threaded executor.

#include "util/event.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <exception>
#include <memory>
#include <utility>

namespace pgexport::engine::detail {

template <class T> class coalescer {
public:
    explicit coalescer(boost::asio::any_io_executor ex) : executor_(std::move(ex)) {}

    // fetch: () -> awaitable<T>, called by the one caller that leads a round.
    template <class Fetch> boost::asio::awaitable<std::shared_ptr<const T>> async_get(Fetch fetch) {
        if (!next_)
            next_ = std::make_shared<round>(executor_);
        const std::shared_ptr<round> mine = next_;
        while (!mine->started && running_) {
            const std::shared_ptr<round> current = running_;
            co_await current->done.async_wait();
        }
        if (!mine->started) {
            // The first to find nothing running leads the round; its other callers wait for it.
            mine->started = true;
            ++rounds_;
            next_.reset();
            running_ = mine;
            try {
                mine->value = std::make_shared<const T>(co_await fetch());
            } catch (...) {
                mine->error = std::current_exception();
            }
            running_.reset();
            mine->done.set();
        } else {
            co_await mine->done.async_wait();
        }
        if (mine->error)
            std::rethrow_exception(mine->error);
        co_return mine->value;
    }

    // No round runs or waits: the coalescer can be dropped.
    bool idle() const { return !running_ && !next_; }
    std::size_t rounds() const { return rounds_; }

private:
    struct round {
        explicit round(boost::asio::any_io_executor ex) : done(std::move(ex)) {}
        event done;
        bool started = false;
        std::shared_ptr<const T> value;
        std::exception_ptr error;
    };
    boost::asio::any_io_executor executor_;
    std::shared_ptr<round> running_; // the round in flight
    std::shared_ptr<round> next_;    // the round callers join now; starts when running_ ends
    std::size_t rounds_ = 0;
};

} // namespace pgexport::engine::detail
