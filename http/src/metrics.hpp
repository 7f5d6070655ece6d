#pragma once
// The /metrics text (Prometheus exposition format 0.0.4). Pure: the numbers are passed in.

#include <pgexport/engine.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace pgexport::http {

// HTTP requests answered, by (route pattern, status code).
using request_counts = std::map<std::pair<std::string, unsigned>, std::int64_t>;

struct metrics_input {
    std::map<engine::job_status, std::int64_t> jobs_by_status; // the whole job store
    engine::engine_stats engine;                               // this process
    std::size_t running_here = 0;
    engine::held_snapshots snapshots;                          // held by this process's snapshot jobs
    std::size_t open_connections = 0;
    request_counts requests;
};

std::string format_metrics(const metrics_input& in);

// A label value with `"` and `\` escaped (and newlines as \n).
std::string escape_label(std::string_view s);

} // namespace pgexport::http
