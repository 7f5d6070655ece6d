#pragma once
// `pgexport export`: the client that creates an export on a server, shows its progress and downloads
// the file, resuming a broken download with Range when the partial file is the same job's
// (download_resume.hpp). Its parts: http_client (http and https, redirects), progress_display,
// download_files (the part, its record and the final name, safe in shared directories).

#include <optional>
#include <string>

namespace pgexport::cli {

struct export_client_params {
    std::string server = "http://127.0.0.1:8080";
    std::optional<std::string> filters_json; // the "filters" object, as JSON text
    std::optional<std::string> columns;      // a,b,c
    std::optional<std::string> format;       // "csv", "jsonl" or "parquet" (the request's "format")
    std::optional<std::string> consistency;  // "chunked" or "snapshot" (the request's "consistency")
    std::optional<std::string> compression;  // "none" or "gzip"
    std::optional<std::string> csv_json;     // the "csv" options object, as JSON text
    std::optional<std::string> parquet_json; // the "parquet" options object, as JSON text
    std::optional<std::string> output;       // default export-<jobId>.csv (.jsonl, .csv.gz, .jsonl.gz, .parquet)
    std::optional<std::string> api_key;
    std::optional<std::string> job_id; // attach to this job instead of creating one
    bool quiet = false;
    bool cancel_on_interrupt = false;
    bool force = false; // replace an existing output file
};

// Runs the whole round trip. Returns the process exit code: 0 done, 1 the job failed or the server
// refused, 2 bad arguments (an existing output without --force too), 130 interrupted. Messages go to
// stderr; the saved path to stdout.
int run_export_client(const export_client_params& params);

// The default output file of a job: export-<jobId>.csv, .jsonl, .csv.gz, .jsonl.gz or .parquet after the "request"
// of its status (format and compression). Pure, for tests.
std::string default_output_name(const std::string& job_id, const std::string& status_json);

} // namespace pgexport::cli
