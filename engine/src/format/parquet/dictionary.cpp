#include "format/parquet/dictionary.hpp"

#include <functional>

namespace pgexport::engine::detail::parquet {

std::optional<std::uint32_t> value_dictionary::find_or_add(std::string_view value, std::size_t max_bytes) {
    const std::size_t hash = std::hash<std::string_view>{}(value);
    if (!slots_.empty()) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
            const std::uint32_t held = slots_[slot];
            if (held == 0)
                break;
            const entry& e = entries_[held - 1];
            if (e.hash == hash && std::string_view(page_).substr(e.offset, e.size) == value)
                return held - 1;
        }
    }
    const std::size_t added = value.size() + (length_prefixed_ ? 4 : 0);
    if (page_.size() + added > max_bytes || entries_.size() >= UINT32_MAX - 1)
        return std::nullopt;
    if (length_prefixed_) {
        const auto size = static_cast<std::uint32_t>(value.size());
        for (int byte = 0; byte < 4; ++byte)
            page_.push_back(static_cast<char>((size >> (8 * byte)) & 0xFF));
    }
    entries_.push_back({static_cast<std::uint32_t>(page_.size()), static_cast<std::uint32_t>(value.size()), hash});
    page_.append(value);
    // At most half full, so that probes stay short.
    if (entries_.size() * 2 > slots_.size())
        grow();
    else {
        const std::size_t mask = slots_.size() - 1;
        std::size_t slot = hash & mask;
        while (slots_[slot] != 0)
            slot = (slot + 1) & mask;
        slots_[slot] = static_cast<std::uint32_t>(entries_.size());
    }
    return static_cast<std::uint32_t>(entries_.size() - 1);
}

void value_dictionary::grow() {
    slots_.assign(std::max<std::size_t>(64, slots_.size() * 2), 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        std::size_t slot = entries_[i].hash & mask;
        while (slots_[slot] != 0)
            slot = (slot + 1) & mask;
        slots_[slot] = static_cast<std::uint32_t>(i + 1);
    }
}

std::string_view value_dictionary::value(std::uint32_t index) const {
    const entry& e = entries_[index];
    return std::string_view(page_).substr(e.offset, e.size);
}

std::size_t value_dictionary::memory() const {
    return page_.capacity() + entries_.capacity() * sizeof(entry) + slots_.capacity() * sizeof(std::uint32_t);
}

void value_dictionary::clear() {
    page_.clear();
    entries_.clear();
    slots_.clear();
}

} // namespace pgexport::engine::detail::parquet
