#pragma once
// The query string of GET /api/records. Pure: no I/O.
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

namespace pgexport::http {

struct records_query {
    engine::export_request request;
    std::optional<std::int64_t> after;
    int limit = 100;
};

engine::result<records_query> parse_records_query(std::string_view query);

// Percent-decoding; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

} // namespace pgexport::http
