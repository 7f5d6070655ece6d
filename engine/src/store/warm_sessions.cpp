#include "store/warm_sessions.hpp"

namespace pgexport::engine::detail {

std::unique_ptr<async_connection> warm_sessions::take(const std::string& url) {
    std::vector<std::unique_ptr<async_connection>> stale; // closed outside the lock
    std::unique_ptr<async_connection> found;
    {
        std::lock_guard lock(mutex_);
        const auto now = clock::now();
        for (auto it = idle_.end(); it != idle_.begin() && !found;) {
            --it;
            if (it->url != url)
                continue;
            auto session = std::move(it->session);
            const bool fresh = now - it->since <= max_idle_;
            it = idle_.erase(it);
            if (fresh && session->is_reusable())
                found = std::move(session);
            else
                stale.push_back(std::move(session));
        }
    }
    return found;
}

void warm_sessions::give_back(const std::string& url, std::unique_ptr<async_connection> session) {
    if (!session || capacity_ == 0 || max_idle_.count() <= 0 || !session->is_reusable())
        return;
    std::unique_ptr<async_connection> oldest;
    std::lock_guard lock(mutex_);
    if (idle_.size() >= capacity_) {
        oldest = std::move(idle_.front().session);
        idle_.erase(idle_.begin());
    }
    idle_.push_back({url, std::move(session), clock::now()});
}

void warm_sessions::close_idle(clock::time_point now) {
    std::vector<entry> expired;
    std::lock_guard lock(mutex_);
    auto it = idle_.begin();
    while (it != idle_.end() && now - it->since > max_idle_)
        ++it;
    expired.assign(std::make_move_iterator(idle_.begin()), std::make_move_iterator(it));
    idle_.erase(idle_.begin(), it);
}

void warm_sessions::close_all() {
    std::vector<entry> all;
    std::lock_guard lock(mutex_);
    all.swap(idle_);
}

std::size_t warm_sessions::size() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
}

} // namespace pgexport::engine::detail
