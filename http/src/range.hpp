#pragma once
// The Range request header (RFC 9110, bytes only). Pure: no I/O.

#include <cstdint>
#include <optional>
#include <string_view>

namespace pgexport::http {

struct byte_range {
    std::uint64_t first; // inclusive
    std::uint64_t last;  // inclusive
    std::uint64_t length() const { return last - first + 1; }
};

enum class range_kind {
    whole,         // no Range, or one to ignore (malformed, not bytes, several ranges): send 200 and all
    partial,       // send 206 and `range`
    unsatisfiable, // send 416
};

struct range_decision {
    range_kind kind = range_kind::whole;
    byte_range range{0, 0};
};

// Decides what to send for a file of `size` bytes given the Range header's value (nullopt: absent).
range_decision parse_range(std::optional<std::string_view> header, std::uint64_t size);

} // namespace pgexport::http
