// Fuzz target: the query string of GET /api/records, into a request.

#include "query.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace pgexport::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view query(reinterpret_cast<const char*>(data), size);
    auto q = parse_records_query(query);
    if (q && (q->limit < 1 || q->limit > 1000))
        std::abort();
    return 0;
}
