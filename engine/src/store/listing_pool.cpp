#include "store/listing_pool.hpp"

namespace pgexport::engine::detail {

namespace {

std::string duration_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000) + "s";
    return std::to_string(d.count()) + "ms";
}

} // namespace

listing_pool::listing_pool(listing_pool_params params)
    : params_(std::move(params)), threads_(static_cast<std::size_t>(std::max(1, params_.connections))) {
    // Connected at the first listing that needs one, and again after one was lost.
    for (int i = 0; i < std::max(1, params_.connections); ++i)
        idle_.push_back(std::make_unique<table_catalog>(params_.url, params_.statement_timeout, params_.connect_timeout));
}

listing_pool::~listing_pool() {
    threads_.join();
}

listing_pool::lease listing_pool::take() {
    // As many threads as connections: a thread running a listing always finds one idle.
    std::lock_guard lock(mutex_);
    auto catalog = std::move(idle_.back());
    idle_.pop_back();
    return lease(*this, std::move(catalog));
}

void listing_pool::give_back(std::unique_ptr<table_catalog> catalog) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(catalog));
}

problem listing_pool::busy() const {
    return {errc::unavailable, "the server is busy: " + std::to_string(capacity()) +
                                   " listings are running or waiting already; try again in a moment"};
}

problem listing_pool::too_slow() const {
    return {errc::unavailable, "the listing took longer than " + duration_text(params_.statement_timeout) +
                                   " (--records-timeout) and was stopped; filter on indexed columns, or ask for "
                                   "an export (POST /api/export), which has no such limit"};
}

} // namespace pgexport::engine::detail
