#pragma once
// A request's output options: the "csv" object checked as COPY would check it, and the "parquet" object.

#include <pgexport/error.hpp>
#include <pgexport/request.hpp>

#include <boost/json/value.hpp>

namespace pgexport::engine::detail {

// The "csv" object: COPY's options, checked as COPY checks them (PostgreSQL 15's ProcessCopyOptions) plus
// what the engine's reading of each row's key needs, so that a job never fails on them later.
result<csv_options> parse_csv_options(const boost::json::value& value);

// The "parquet" object: "compression" (zstd, snappy, none) and "rowGroupRows" (min_row_group_rows to
// max_row_group_rows), both optional, nothing else.
result<parquet_options> parse_parquet_options(const boost::json::value& value);

} // namespace pgexport::engine::detail
