#pragma once
// The API's JSON shape of a job (its status). Pure: no I/O. Errors: http_error.hpp.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>

#include <boost/json/value.hpp>

#include <string_view>

namespace pgexport::http {

// {"jobId": …, "status": …, …} as GET /api/export/{id}/status returns it.
boost::json::object job_json(const engine::job_info& job);

} // namespace pgexport::http
