// Fuzz target: the Range header. Invariants: a partial range lies inside the file.

#include "range.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

using namespace pgexport::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint64_t file_size = 0;
    if (size >= 2) {
        file_size = static_cast<std::uint64_t>(data[0]) << 8 | data[1];
        data += 2;
        size -= 2;
    }
    std::string_view header(reinterpret_cast<const char*>(data), size);
    range_decision d = parse_range(header, file_size);
    if (d.kind == range_kind::partial &&
        (d.range.first > d.range.last || d.range.last >= file_size || d.range.length() > file_size))
        std::abort();
    return 0;
}
