// Fuzz target: a request body, through the parser and the SQL builder.
// Invariants: nothing crashes; an accepted request round-trips through JSON; every statement built from
// it holds each value only inside a string literal and each column name only in double quotes (fuzz.hpp).

#include "fuzz.hpp"

#include <pgexport/request.hpp>

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace pgexport::engine;

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
    if (!again || *again != *request)
        std::abort();
    if (detail::check_columns(pgexport::fuzz::schema, *request))
        return 0;
    pgexport::fuzz::check_built_sql(*request, 5, 10);
    return 0;
}
