#pragma once
// Values that are costly to make and never change once made (a job's request, parsed or serialized),
// kept by key within a budget of bytes: the oldest out first. Values under `min_bytes` are not kept
// (they cost less to make again than to hold); nor is one over the whole budget. Not thread-safe: one
// owner, one thread.

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace pgexport::engine::detail {

template <class Value>
class fifo_cache {
public:
    fifo_cache(std::size_t max_bytes, std::size_t min_bytes) : max_bytes_(max_bytes), min_bytes_(min_bytes) {}

    // The value kept under `key`, or null.
    std::shared_ptr<const Value> find(const std::string& key) const {
        const auto it = values_.find(key);
        return it == values_.end() ? nullptr : it->second.value;
    }

    // Keeps `value`, counted as `bytes`, when its size is worth it; drops the oldest over the budget.
    void insert(const std::string& key, std::shared_ptr<const Value> value, std::size_t bytes) {
        if (bytes < min_bytes_ || bytes > max_bytes_ || values_.contains(key))
            return;
        values_.emplace(key, entry{std::move(value), bytes});
        order_.push_back(key);
        bytes_ += bytes;
        while (bytes_ > max_bytes_) {
            const auto oldest = values_.find(order_.front());
            bytes_ -= oldest->second.bytes;
            values_.erase(oldest);
            order_.pop_front();
        }
    }

    std::size_t bytes() const { return bytes_; }
    std::size_t size() const { return values_.size(); }

private:
    struct entry {
        std::shared_ptr<const Value> value;
        std::size_t bytes = 0;
    };
    std::size_t max_bytes_, min_bytes_, bytes_ = 0;
    std::map<std::string, entry> values_;
    std::deque<std::string> order_; // keys, oldest first
};

} // namespace pgexport::engine::detail
