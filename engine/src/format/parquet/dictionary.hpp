#pragma once
// A column chunk's dictionary: each distinct value once, in order of first appearance, as the PLAIN body of
// the dictionary page, with a hash table from value to index. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

class value_dictionary {
public:
    // `length_prefixed`: BYTE_ARRAY values, PLAIN-encoded with a 4-byte little-endian length each.
    explicit value_dictionary(bool length_prefixed) : length_prefixed_(length_prefixed) {}

    // The index of `value` (its PLAIN bytes, without a length), added when new unless that would make
    // the page body longer than `max_bytes`: then nullopt, and the dictionary is unchanged.
    std::optional<std::uint32_t> find_or_add(std::string_view value, std::size_t max_bytes);

    std::size_t size() const { return entries_.size(); }
    // The value at `index`, as given to find_or_add.
    std::string_view value(std::uint32_t index) const;
    // The dictionary page's body: every value PLAIN-encoded, in index order.
    std::string_view page() const { return page_; }
    // Bytes held (the page, the entries, the hash table).
    std::size_t memory() const;
    void clear();

private:
    struct entry {
        std::uint32_t offset; // of the value's bytes in page_ (after its length, if any)
        std::uint32_t size;
        std::size_t hash;
    };
    void grow();

    bool length_prefixed_;
    std::string page_;
    std::vector<entry> entries_;
    std::vector<std::uint32_t> slots_; // open addressing: entry index + 1, 0 for empty
};

} // namespace pgexport::engine::detail::parquet
