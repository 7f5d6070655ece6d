#pragma once
// The rows' sessions, kept warm between streams. A new PostgreSQL backend pays for each page of
// shared_buffers it touches first: one page fault per 4 KiB page, 65,536 for 256 MB, which on the
// 2-core VM this was measured on cost 0.95 s of the backend's CPU on its first scan of a table larger
// than shared_buffers (docs/performance.md), about what formatting 1,000,000 rows costs. psql pays it on
// every run; a service that keeps its sessions pays it once.
//
// A stream takes a session for its URL (the primary's or the standby's) and gives it back only when it
// ended cleanly: connected, out of any transaction, nothing unread. A stream that failed or was stopped
// closes its own. At most `capacity` sessions wait here, each for at most `max_idle` (close_idle, which
// the scheduler calls as it polls); shutdown closes every one.

#include "store/pg.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

class warm_sessions {
public:
    using clock = std::chrono::steady_clock;

    // capacity 0 or max_idle 0: nothing is kept (every stream connects anew).
    warm_sessions(std::size_t capacity, std::chrono::milliseconds max_idle)
        : capacity_(capacity), max_idle_(max_idle) {}

    // The most recently returned session for `url` that can run a statement now, or nullptr.
    std::unique_ptr<async_connection> take(const std::string& url);
    // Keeps `session` for `url` if it can be used again and there is room; else closes it.
    void give_back(const std::string& url, std::unique_ptr<async_connection> session);
    // Closes the sessions idle for longer than max_idle at `now`.
    void close_idle(clock::time_point now = clock::now());
    void close_all();
    std::size_t size() const;

private:
    struct entry {
        std::string url;
        std::unique_ptr<async_connection> session;
        clock::time_point since;
    };

    const std::size_t capacity_;
    const std::chrono::milliseconds max_idle_;
    mutable std::mutex mutex_;
    std::vector<entry> idle_; // oldest first
};

} // namespace pgexport::engine::detail
