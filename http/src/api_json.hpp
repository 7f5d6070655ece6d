#pragma once
// The API's JSON shapes of a job (its status) and of a table (its schema). Pure: no I/O. Errors:
// http_error.hpp.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>
#include <pgexport/table_schema.hpp>

#include "client_view.hpp"

#include <pgexport/shared/fifo_cache.hpp>

#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::http {

// {"jobId": …, "status": …, …} as GET /api/export/{id}/status returns it. `download_url` is the
// completed job's downloadUrl (a signed link); nullopt gives the plain /api/export/{id}/download. With a
// `view`, filePath, error and waiting are shown as a client may see them (client_view.hpp).
boost::json::object job_json(const engine::job_info& job, const std::optional<std::string>& download_url = {},
                             const client_view* view = nullptr);

// The serialized requests of jobs, which never change: a request of many values (a 100,000-value `in`
// list is some 800 KB) is serialized once, not at every status answer, list and event. Requests under
// `min_bytes` are not kept: they cost less to serialize again. Bounded by bytes, the oldest out first.
class request_texts {
public:
    explicit request_texts(std::size_t max_bytes = std::size_t{32} << 20, std::size_t min_bytes = 4096)
        : texts_(max_bytes, min_bytes) {}
    std::shared_ptr<const std::string> get(const engine::job_info& job);
    std::size_t bytes() const { return texts_.bytes(); }
    std::size_t size() const { return texts_.size(); }

private:
    engine::detail::fifo_cache<std::string> texts_; // by job id
};

// job_json's text, the request taken from `requests`. A request of more than `max_request_bytes` of JSON
// is left out: "request": null and "requestBytes": its size (a list of many large requests stays small).
std::string job_json_text(const engine::job_info& job, request_texts& requests,
                          const std::optional<std::string>& download_url = {}, const client_view* view = nullptr,
                          std::optional<std::size_t> max_request_bytes = {});

// The message of a download's 410 `expired`: when the file went, and that a new export is the way on.
std::string expired_message(const engine::job_info& job);

// What a request may ask beyond filters and columns, as /api/schema's "options": {"formats",
// "compression" (the values each field takes), "csvOptions" (the names of the "csv" object's fields this
// server honours), "maxParallelism" (the server's --max-parallelism)}. A page shows a control for each
// only when it has a choice.
boost::json::object export_options_json(int max_parallelism = 1);

// {"table", "key", "columns": [{"name", "type", "nullable", "operators"[, "values"]}], "tables",
// "options"} as GET /api/schema returns it; `tables` are the names of every table the server exports.
boost::json::object schema_json(const engine::table_schema& schema, const std::vector<std::string>& tables,
                                int max_parallelism = 1);

} // namespace pgexport::http
