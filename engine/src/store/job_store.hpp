#pragma once
// The job queue's connections, each on a thread of its own: the writes (claims, checkpoints: every write
// to a job's record but renewals), the leases (renewals alone: a lease is never late because a claim or
// a large insert ran before it) and the reads (status, lists, counts: a burst of API reads never waits
// behind a checkpoint, nor delays one). Callers on the engine's executor await a function run there with
// the connection's repository; a lost or refused connection comes back as unavailable_error.

#include "store/job_repository.hpp"
#include "util/offload.hpp"

#include <pgexport/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <string>
#include <type_traits>

namespace pgexport::engine::detail {

// Runs f(); a pg_error that a later attempt may not meet (the database away) becomes unavailable_error.
template <class F> auto unavailable_if_transient(F&& f) {
    try {
        return f();
    } catch (const pg_error& e) {
        if (e.transient())
            throw unavailable_error(std::string("the database is unavailable: ") + e.what());
        throw;
    }
}

class job_store {
public:
    job_store(const std::string& url, std::chrono::milliseconds connect_timeout, std::chrono::milliseconds lease)
        : writes_(url, std::chrono::seconds(30), connect_timeout, lease),
          leases_(url, std::chrono::seconds(30), connect_timeout, lease),
          reads_(url, std::chrono::seconds(30), connect_timeout, lease) {}
    ~job_store() {
        writes_pool_.join();
        leases_pool_.join();
        reads_pool_.join();
    }
    job_store(const job_store&) = delete;
    job_store& operator=(const job_store&) = delete;

    // f(repository) on the writes' thread, resuming the caller on its executor with the result.
    template <class F> auto on_writes(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
        return async_offload(writes_pool_, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(writes_); });
        });
    }
    // f(repository) on the leases' connection: renewals.
    template <class F> auto on_leases(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
        return async_offload(leases_pool_, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(leases_); });
        });
    }
    // f(repository) on the reads' connection: status, lists and counts.
    template <class F> auto on_reads(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
        return async_offload(reads_pool_, [this, f = std::move(f)]() mutable {
            return unavailable_if_transient([&] { return f(reads_); });
        });
    }

private:
    boost::asio::thread_pool writes_pool_{1};
    job_repository writes_; // touched only on writes_pool_
    boost::asio::thread_pool leases_pool_{1};
    job_repository leases_; // touched only on leases_pool_
    boost::asio::thread_pool reads_pool_{1};
    job_repository reads_;  // touched only on reads_pool_
};

} // namespace pgexport::engine::detail
