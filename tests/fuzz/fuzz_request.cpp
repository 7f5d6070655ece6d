// Fuzz target: a request body, through the parser and the SQL builder.
// Invariants: nothing crashes; an accepted request round-trips through JSON; the SQL built from it holds
// every value only inside quoted literals (no NUL, balanced quotes).

#include "detail/sql.hpp"

#include <pgexport/request.hpp>

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace pgexport::engine;

namespace {

const table_schema schema{"public.t",
                          "id",
                          {{"id", "bigint"},
                           {"category", "text"},
                           {"amount", "numeric"},
                           {"created_at", "timestamp with time zone"},
                           {"we\"ird", "text"}}};

void check(bool ok) {
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 32;
    boost::json::value v = boost::json::parse(body, ec, {}, options);
    if (ec)
        return 0;
    auto request = parse_export_request(v);
    if (!request)
        return 0;
    auto again = parse_export_request(to_json(*request));
    check(again && *again == *request);
    if (detail::check_columns(schema, *request))
        return 0;
    const std::string sql = detail::chunk_copy_sql(schema, *request, 5, 100, 10);
    check(sql.find('\0') == std::string::npos);
    // Quotes pair up: every literal and identifier the builder opened, it closed.
    std::size_t single = 0;
    for (char c : sql)
        single += c == '\'';
    check(single % 2 == 0);
    return 0;
}
