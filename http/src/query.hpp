#pragma once
// The query strings of GET /api/records, /api/export and /api/schema. Pure: no I/O.
//
//   limit=N            rows per page, 1 to 1000 [100]
//   after=K            the previous page's nextCursor
//   columns=a,b,c      which columns, in order [all]
//   col=v              col equals v; repeated (col=a&col=b) it is "in"
//   col[op]=v          op is eq, ne, gt, gte, lt, lte or in (in may repeat)
// Values are percent-decoded ('+' is a space) and then treated exactly like the export's filters.

#include <pgexport/request.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgexport::http {

struct records_query {
    engine::export_request request;
    std::optional<std::int64_t> after;
    int limit = 100;
};

engine::result<records_query> parse_records_query(std::string_view query);

// The name=value pairs of a query string in order, percent-decoded ('+' is a space); invalid_request for
// a malformed escape.
using query_pairs = std::vector<std::pair<std::string, std::string>>;
engine::result<query_pairs> parse_query_pairs(std::string_view query);

// A whole number in [min, max] written in decimal and nothing else; nullopt otherwise.
std::optional<long long> parse_whole(std::string_view text, long long min, long long max);

// limit=N of a list: 1 to 1000.
engine::result<int> parse_limit(std::string_view text);

// GET /api/export's query string: limit=N [100] and requests=full (every job's request whole, however
// large; by default a large one is left out); any other parameter is invalid_request.
struct list_query {
    int limit = 100;
    bool full_requests = false;
};
engine::result<list_query> parse_list_query(std::string_view query);

// GET /api/schema's query string: table=NAME, once at most (nullopt: the first table); any other
// parameter is invalid_request.
engine::result<std::optional<std::string>> parse_schema_query(std::string_view query);

// A request target fit for the log: the value of every query parameter that can carry a secret
// (signature, the X-Amz-* of a presigned URL, key, token, password, …, in any case) replaced by "REDACTED";
// the rest as it came.
std::string loggable_target(std::string_view target);

// Percent-decoding; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

} // namespace pgexport::http
