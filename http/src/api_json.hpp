#pragma once
// The API's JSON shapes of a job (its status) and of a table (its schema). Pure: no I/O. Errors:
// http_error.hpp.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>
#include <pgexport/table_schema.hpp>

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

// {"jobId": …, "status": …, …} as GET /api/export/{id}/status returns it. `download_url` is the
// completed job's downloadUrl (a signed link); nullopt gives the plain /api/export/{id}/download.
boost::json::object job_json(const engine::job_info& job,
                             const std::optional<std::string>& download_url = {});

// The message of a download's 410 `expired`: when the file went, and that a new export is the way on.
std::string expired_message(const engine::job_info& job);

// What a request may ask beyond filters and columns, as /api/schema's "options": {"formats",
// "compression" (the values each field takes), "csvOptions" (the names of the "csv" object's fields this
// server honours), "maxParallelism"}. A page shows a control for each only when it has a choice.
boost::json::object export_options_json();

// {"table", "key", "columns": [{"name", "type", "nullable", "operators"[, "values"]}], "tables",
// "options"} as GET /api/schema returns it; `tables` are the names of every table the server exports.
boost::json::object schema_json(const engine::table_schema& schema, const std::vector<std::string>& tables);

} // namespace pgexport::http
