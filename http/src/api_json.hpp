#pragma once
// The API's JSON shapes (CONTRACT.md): a job's status, errors. Pure: no I/O.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>

#include <boost/beast/http/status.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace pgexport::http {

// {"jobId": …, "status": …, …} as GET /api/export/{id}/status returns it.
boost::json::object job_json(const engine::job_info& job);

// The message of a download's 410 `expired`: when the file went, and that a new export is the way on.
std::string expired_message(const engine::job_info& job);

// {"error": {"code": …, "message": …}}
boost::json::object error_json(std::string_view code, std::string_view message);

// The HTTP status for an engine problem.
boost::beast::http::status status_for(engine::errc code);

} // namespace pgexport::http
