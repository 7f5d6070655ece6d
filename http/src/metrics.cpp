#include "metrics.hpp"

#include <cstdio>

namespace pgexport::http {

namespace {

void describe(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out += name;
    out += labels;
    out += ' ';
    out += number;
    out += '\n';
}

} // namespace

std::string escape_label(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

std::string format_metrics(const metrics_input& in) {
    using engine::job_status;
    std::string out;
    describe(out, "pgexport_jobs", "gauge", "Export jobs in the job store by status.");
    for (auto s : {job_status::queued, job_status::running, job_status::completed, job_status::failed,
                   job_status::cancelled, job_status::expired}) {
        auto it = in.jobs_by_status.find(s);
        sample(out, "pgexport_jobs", "{status=\"" + std::string(engine::to_string(s)) + "\"}",
               static_cast<double>(it == in.jobs_by_status.end() ? 0 : it->second));
    }
    const auto& st = in.engine;
    describe(out, "pgexport_jobs_running_here", "gauge", "Jobs this process is running.");
    sample(out, "pgexport_jobs_running_here", "", static_cast<double>(in.running_here));
    describe(out, "pgexport_rows_exported_total", "counter", "Rows written by this process.");
    sample(out, "pgexport_rows_exported_total", "", static_cast<double>(st.rows_exported));
    describe(out, "pgexport_bytes_written_total", "counter", "CSV bytes written by this process.");
    sample(out, "pgexport_bytes_written_total", "", static_cast<double>(st.bytes_written));
    describe(out, "pgexport_retries_total", "counter", "Export attempts retried after a transient failure.");
    sample(out, "pgexport_retries_total", "", static_cast<double>(st.retries));
    describe(out, "pgexport_throttled_seconds_total", "counter",
             "Time jobs were held back on purpose, summed over jobs, by cause (--max-rate, --gentle).");
    sample(out, "pgexport_throttled_seconds_total", "{cause=\"max_rate\"}", st.throttled_seconds_max_rate);
    sample(out, "pgexport_throttled_seconds_total", "{cause=\"gentle\"}", st.throttled_seconds_gentle);
    describe(out, "pgexport_replica_wait_seconds_total", "counter",
             "Seconds jobs waited for --replica (behind the job's WAL position, or unreachable), summed over jobs.");
    sample(out, "pgexport_replica_wait_seconds_total", "", st.replica_wait_seconds);
    describe(out, "pgexport_snapshots_held", "gauge",
             "Snapshots held now for snapshot-consistent jobs (each holds back vacuum on the whole cluster).");
    sample(out, "pgexport_snapshots_held", "", static_cast<double>(in.snapshots.count));
    describe(out, "pgexport_snapshot_oldest_age_seconds", "gauge",
             "Age of the oldest snapshot held now for a snapshot-consistent job (0 when none is held).");
    sample(out, "pgexport_snapshot_oldest_age_seconds", "", in.snapshots.oldest_age_seconds);
    describe(out, "pgexport_snapshot_checks_total", "counter",
             "Checks of the rows written under a lost snapshot, against a new one.");
    sample(out, "pgexport_snapshot_checks_total", "", static_cast<double>(st.snapshot_checks));
    describe(out, "pgexport_snapshot_check_seconds_total", "counter", "Time those checks took, summed.");
    sample(out, "pgexport_snapshot_check_seconds_total", "", st.snapshot_check_seconds);
    describe(out, "pgexport_snapshot_resumes_total", "counter",
             "Snapshot jobs that went on under a new snapshot: the rows written were proven unchanged.");
    sample(out, "pgexport_snapshot_resumes_total", "", static_cast<double>(st.snapshot_resumes));
    describe(out, "pgexport_snapshot_restarts_total", "counter",
             "Snapshot jobs that started over under a new snapshot: the rows written could not be proven unchanged.");
    sample(out, "pgexport_snapshot_restarts_total", "", static_cast<double>(st.snapshot_restarts));
    describe(out, "pgexport_chunk_duration_seconds", "histogram", "Time to stream one chunk's COPY.");
    for (std::size_t i = 0; i < engine::engine_stats::chunk_buckets.size(); ++i) {
        char le[32];
        std::snprintf(le, sizeof le, "%g", engine::engine_stats::chunk_buckets[i]);
        sample(out, "pgexport_chunk_duration_seconds_bucket", "{le=\"" + std::string(le) + "\"}",
               static_cast<double>(st.chunk_seconds_le[i]));
    }
    sample(out, "pgexport_chunk_duration_seconds_bucket", "{le=\"+Inf\"}", static_cast<double>(st.chunks));
    sample(out, "pgexport_chunk_duration_seconds_sum", "", st.chunk_seconds_sum);
    sample(out, "pgexport_chunk_duration_seconds_count", "", static_cast<double>(st.chunks));
    describe(out, "pgexport_http_connections", "gauge", "HTTP connections open now.");
    sample(out, "pgexport_http_connections", "", static_cast<double>(in.open_connections));
    describe(out, "pgexport_http_requests_total", "counter", "HTTP requests by route and status code.");
    for (const auto& [key, n] : in.requests)
        sample(out, "pgexport_http_requests_total",
               "{route=\"" + escape_label(key.first) + "\",code=\"" + std::to_string(key.second) + "\"}",
               static_cast<double>(n));
    return out;
}

} // namespace pgexport::http
