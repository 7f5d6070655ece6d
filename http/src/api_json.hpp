#pragma once
// The API's JSON shape of a job (its status). Pure: no I/O. Errors: http_error.hpp.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

// {"jobId": …, "status": …, …} as GET /api/export/{id}/status returns it. `download_url` is the
// completed job's downloadUrl (a signed link); nullopt gives the plain /api/export/{id}/download.
boost::json::object job_json(const engine::job_info& job,
                             const std::optional<std::string>& download_url = {});

// The message of a download's 410 `expired`: when the file went, and that a new export is the way on.
std::string expired_message(const engine::job_info& job);

} // namespace pgexport::http
