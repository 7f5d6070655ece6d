#pragma once
// The listing's (GET /api/records) own catalog connections: a few, each statement under a short timeout,
// behind a bounded queue. A slow listing (a filter on an unindexed column) so neither holds the catalog
// connection that creating an export needs, nor piles up without end: past the queue the caller is told
// to come back.

#include "store/table_catalog.hpp"
#include "util/offload.hpp"

#include <pgexport/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct listing_pool_params {
    std::string url;
    int connections = 2;       // listings at the database at once
    std::size_t queue = 16;    // more that may wait for a connection; past it: busy
    std::chrono::milliseconds statement_timeout{5000};
    std::chrono::milliseconds connect_timeout{10000};
};

class listing_pool {
public:
    explicit listing_pool(listing_pool_params params);
    ~listing_pool();
    listing_pool(const listing_pool&) = delete;
    listing_pool& operator=(const listing_pool&) = delete;

    // Runs f(catalog) -> result<R> on a connection of the pool and resumes with its result. Problems:
    // unavailable when `queue` listings wait already (busy: come back shortly), or when a statement ran
    // past the timeout. A lost or refused connection surfaces as unavailable_error. Call on the engine's
    // executor: the count of listings admitted lives there.
    template <class R, class F> boost::asio::awaitable<result<R>> async_run(F f) {
        if (admitted_ >= capacity())
            co_return busy();
        ++admitted_;
        const admission held{admitted_};
        auto run = [this, f = std::move(f)]() mutable -> result<R> {
            const lease catalog = take();
            try {
                return f(*catalog.get());
            } catch (const pg_error& e) {
                if (e.sqlstate() == "57014") // query_canceled: the statement timeout
                    return too_slow();
                if (e.transient())
                    throw unavailable_error(std::string("the database is unavailable: ") + e.what());
                throw;
            }
        };
        co_return co_await async_offload(threads_, std::move(run));
    }

    std::size_t capacity() const { return static_cast<std::size_t>(params_.connections) + params_.queue; }

private:
    // A connection taken from the idle ones for one listing, given back after it.
    class lease {
    public:
        lease(listing_pool& pool, std::unique_ptr<table_catalog> catalog) : pool_(pool), catalog_(std::move(catalog)) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { pool_.give_back(std::move(catalog_)); }
        table_catalog* get() const { return catalog_.get(); }

    private:
        listing_pool& pool_;
        std::unique_ptr<table_catalog> catalog_;
    };
    struct admission {
        std::size_t& admitted;
        ~admission() { --admitted; }
    };

    lease take();
    void give_back(std::unique_ptr<table_catalog> catalog);
    problem busy() const;
    problem too_slow() const;

    listing_pool_params params_;
    std::mutex mutex_; // guards idle_: the pool's threads take and give back
    std::vector<std::unique_ptr<table_catalog>> idle_;
    std::size_t admitted_ = 0; // listings running or waiting; on the engine's executor
    boost::asio::thread_pool threads_;
};

} // namespace pgexport::engine::detail
