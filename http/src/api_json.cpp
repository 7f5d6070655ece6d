#include "api_json.hpp"

#include <boost/json/serialize.hpp>

#include <cmath>

namespace json = boost::json;

namespace pgexport::http {

namespace {

// Every field of the status but the request.
json::object job_fields(const engine::job_info& job, const std::optional<std::string>& download_url,
                        const client_view* view) {
    auto message = [view](const std::string& text) {
        return json::value(view ? shown_message(text, *view) : text);
    };
    auto time_or_null = [](const std::optional<engine::timestamp>& t) {
        return t ? json::value(engine::format_timestamp(*t)) : json::value(nullptr);
    };
    const bool completed = job.status == engine::job_status::completed;
    json::object o;
    o["jobId"] = job.id;
    o["status"] = engine::to_string(job.status);
    // 0 before the first chunk: the contract makes this field a number.
    o["lastProcessedId"] = job.last_processed_id.value_or(0);
    o["rowsExported"] = job.rows_exported;
    o["bytesWritten"] = job.bytes_written;
    o["totalRowsEstimate"] =
        job.total_rows_estimate ? json::value(*job.total_rows_estimate) : json::value(nullptr);
    o["filePath"] = !completed || !job.file_path ? json::value(nullptr)
                    : view                        ? json::value(shown_file_path(*job.file_path))
                                                  : json::value(*job.file_path);
    o["downloadUrl"] = !completed     ? json::value(nullptr)
                       : download_url ? json::value(*download_url)
                                      : json::value("/api/export/" + job.id + "/download");
    o["error"] = job.error ? message(*job.error) : json::value(nullptr);
    o["errorCode"] = job.error_code ? json::value(*job.error_code) : json::value(nullptr);
    o["createdAt"] = engine::format_timestamp(job.created_at);
    o["startedAt"] = time_or_null(job.started_at);
    o["finishedAt"] = time_or_null(job.finished_at);
    o["expiresAt"] = time_or_null(job.expires_at);
    o["attempts"] = job.attempts;
    o["instance"] = job.status == engine::job_status::running && job.instance ? json::value(*job.instance)
                                                                              : json::value(nullptr);
    o["waiting"] = job.status == engine::job_status::running && job.waiting ? message(*job.waiting)
                                                                            : json::value(nullptr);
    auto millis = [](double seconds) { return std::round(seconds * 1000) / 1000; };
    if (job.throttled)
        o["throttledSeconds"] =
            json::object{{"maxRate", millis(job.throttled->max_rate)}, {"gentle", millis(job.throttled->gentle)}};
    else
        o["throttledSeconds"] = nullptr;
    o["replicaWaitSeconds"] = job.throttled ? json::value(millis(job.throttled->replica)) : json::value(nullptr);
    // A chunked job has no snapshot: its snapshot fields are null.
    const bool snapshot = job.request.consistency == engine::export_consistency::snapshot;
    o["consistency"] = engine::to_string(job.request.consistency);
    o["snapshotAt"] = snapshot ? time_or_null(job.snapshot_at) : json::value(nullptr);
    o["snapshotId"] = snapshot && job.snapshot_id ? json::value(*job.snapshot_id) : json::value(nullptr);
    o["snapshotRestarts"] = snapshot ? json::value(job.snapshot_restarts) : json::value(nullptr);
    o["snapshotReason"] = snapshot && job.snapshot_reason ? json::value(*job.snapshot_reason) : json::value(nullptr);
    if (job.notify)
        o["notify"] = json::object{{"url", job.notify->url},
                                   {"delivered", job.notify->delivered},
                                   {"attempts", job.notify->attempts},
                                   {"lastError", job.notify->last_error ? json::value(*job.notify->last_error)
                                                                        : json::value(nullptr)}};
    else
        o["notify"] = nullptr;
    return o;
}

} // namespace

json::object job_json(const engine::job_info& job, const std::optional<std::string>& download_url,
                      const client_view* view) {
    json::object o = job_fields(job, download_url, view);
    o["request"] = engine::to_json(job.request);
    return o;
}

std::shared_ptr<const std::string> request_texts::get(const engine::job_info& job) {
    if (auto text = texts_.find(job.id))
        return text;
    auto text = std::make_shared<const std::string>(json::serialize(engine::to_json(job.request)));
    texts_.insert(job.id, text, text->size());
    return text;
}

std::string job_json_text(const engine::job_info& job, request_texts& requests,
                          const std::optional<std::string>& download_url, const client_view* view,
                          std::optional<std::size_t> max_request_bytes) {
    std::string text = json::serialize(job_fields(job, download_url, view));
    text.pop_back(); // the object's closing brace: the request goes last
    const auto request = requests.get(job);
    if (max_request_bytes && request->size() > *max_request_bytes) {
        text += ",\"requestBytes\":" + std::to_string(request->size()) + ",\"request\":null}";
        return text;
    }
    text += ",\"request\":";
    text += *request;
    text += '}';
    return text;
}

std::string expired_message(const engine::job_info& job) {
    std::string when = job.expires_at ? " at " + engine::format_timestamp(*job.expires_at) : "";
    return "the file of job " + job.id + " expired" + when +
           " (the server keeps files for a limited time) and was deleted; create a new export to get the data";
}

json::object export_options_json(int max_parallelism) {
    // The one place that says which request options this server takes beyond filters and columns.
    return json::object{{"formats", json::array{"csv", "jsonl", "parquet"}},
                        {"compression", json::array{"none", "gzip"}},
                        {"consistency", json::array{"chunked", "snapshot"}},
                        {"csvOptions", json::array{"delimiter", "header", "null", "forceQuote", "bom"}},
                        {"parquetOptions", json::object{{"compression", json::array{"zstd", "snappy", "none"}},
                                                        {"rowGroupRows", json::object{{"min", engine::min_row_group_rows},
                                                                                      {"max", engine::max_row_group_rows},
                                                                                      {"default", 100000}}}}},
                        {"maxParallelism", max_parallelism}};
}

json::object schema_json(const engine::table_schema& schema, const std::vector<std::string>& tables,
                         int max_parallelism) {
    json::array columns;
    for (const auto& c : schema.columns) {
        json::array operators;
        for (const auto op : c.operators)
            operators.emplace_back(engine::to_string(op));
        json::object column{{"name", c.name},
                            {"type", c.type},
                            {"nullable", c.nullable},
                            {"operators", std::move(operators)}};
        if (!c.values.empty())
            column["values"] = json::array(c.values.begin(), c.values.end());
        columns.push_back(std::move(column));
    }
    json::array names;
    for (const auto& t : tables)
        names.emplace_back(t);
    return json::object{{"table", schema.table},
                        {"key", schema.key},
                        {"columns", std::move(columns)},
                        {"tables", std::move(names)},
                        {"options", export_options_json(max_parallelism)}};
}

} // namespace pgexport::http
