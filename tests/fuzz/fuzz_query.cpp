// Fuzz target: the query string of GET /api/records, into a request and the SQL of a page.
// Invariants: the limit is within 1 to 1000; every statement built from the request holds each value only
// inside a string literal and each column name only in double quotes (fuzz.hpp).

#include "fuzz.hpp"
#include "query.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace pgexport::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view query(reinterpret_cast<const char*>(data), size);
    auto q = parse_records_query(query);
    if (!q)
        return 0;
    if (q->limit < 1 || q->limit > 1000)
        std::abort();
    if (pgexport::engine::detail::check_columns(pgexport::fuzz::schema, q->request))
        return 0;
    pgexport::fuzz::check_built_sql(q->request, q->after, q->limit);
    return 0;
}
