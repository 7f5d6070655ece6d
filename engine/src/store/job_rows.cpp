#include "store/job_rows.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

// A stored request, parsed; a large one once (`parsed`), as a request never changes.
export_request read_request(const std::string& id, std::string_view text, fifo_cache<export_request>& parsed) {
    // The text's length is part of the name, in case an id ever came back with another request.
    std::string name = id;
    name += '/';
    name += std::to_string(text.size());
    if (auto known = parsed.find(name))
        return *known;
    // Accepted under the limits of its day: read back whatever they are now.
    constexpr request_limits unlimited{SIZE_MAX, SIZE_MAX, SIZE_MAX};
    auto request = parse_export_request(json::parse(text), unlimited);
    if (!request)
        throw std::runtime_error("job " + id + " has an unreadable request: " + request.error().message);
    parsed.insert(name, std::make_shared<const export_request>(*request), text.size());
    return std::move(*request);
}

} // namespace

const char* const job_columns = "id::text, status, request::text, owner, key_upper_bound, "
                                    "last_processed_id, rows_exported, bytes_written,"
                                    " total_rows_estimate, file_path, error, attempts,"
                                    " (extract(epoch FROM created_at) * 1000000)::bigint,"
                                    " (extract(epoch FROM started_at) * 1000000)::bigint,"
                                    " (extract(epoch FROM finished_at) * 1000000)::bigint,"
                                    " table_name, key_column, lease_token, part_token,"
                                    " CASE WHEN status = 'running' THEN lease_owner END, wal_lsn::text, slices::text,"
                                    " publishing::text, storage,"
                                    // The latest notification's delivery: [delivered, attempts, lastError].
                                    " (SELECT json_build_array(w.delivered_at IS NOT NULL, w.attempts, w.last_error)::text"
                                    " FROM export_webhooks w WHERE w.job_id = export_jobs.id"
                                    " ORDER BY w.created_at DESC LIMIT 1),"
                                    // A snapshot job's snapshot; a failed job's code.
                                    " snapshot::text, snapshot_restarts, error_code";

std::optional<timestamp> micros(const PGresult* r, int row, int column) {
    auto v = get_int64(r, row, column);
    if (!v)
        return std::nullopt;
    return timestamp(std::chrono::duration_cast<timestamp::duration>(std::chrono::microseconds(*v)));
}

// A job read from job_columns, which start at column `at` of the result.
stored_job read_job_at(const PGresult* r, int row, int at, fifo_cache<export_request>& parsed) {
    stored_job j;
    job_info& info = j.info;
    info.id = *get_text(r, row, at + 0);
    info.status = parse_job_status(*get_text(r, row, at + 1)).value_or(job_status::failed);
    info.request = read_request(info.id, *get_text(r, row, at + 2), parsed);
    info.owner = get_text(r, row, at + 3);
    j.key_upper_bound = get_int64(r, row, at + 4);
    info.last_processed_id = get_int64(r, row, at + 5);
    info.rows_exported = get_int64(r, row, at + 6).value_or(0);
    info.bytes_written = get_int64(r, row, at + 7).value_or(0);
    info.total_rows_estimate = get_int64(r, row, at + 8);
    info.file_path = get_text(r, row, at + 9);
    info.error = get_text(r, row, at + 10);
    info.attempts = static_cast<int>(get_int64(r, row, at + 11).value_or(0));
    info.created_at = micros(r, row, at + 12).value_or(timestamp{});
    info.started_at = micros(r, row, at + 13);
    info.finished_at = micros(r, row, at + 14);
    j.table = get_text(r, row, at + 15).value_or("");
    j.key = get_text(r, row, at + 16).value_or("");
    j.lease_token = get_int64(r, row, at + 17).value_or(0);
    j.part_token = get_int64(r, row, at + 18);
    info.instance = get_text(r, row, at + 19);
    j.wal_lsn = get_text(r, row, at + 20);
    if (auto text = get_text(r, row, at + 21)) {
        auto slices = slices_from_json(*text);
        if (!slices)
            throw std::runtime_error("job " + info.id + " has unreadable slices");
        j.slices = std::move(*slices);
    }
    if (auto text = get_text(r, row, at + 22)) {
        j.publishing = publish_record_from_json(*text);
        if (!j.publishing)
            throw std::runtime_error("job " + info.id + " has an unreadable publishing record");
    }
    j.storage = get_text(r, row, at + 23);
    info.storage = j.storage;
    if (info.request.notify) {
        info.notify.emplace();
        info.notify->url = info.request.notify->url;
        if (auto text = get_text(r, row, at + 24)) {
            const json::value delivery = json::parse(*text);
            const json::array& d = delivery.as_array();
            info.notify->delivered = d.at(0).as_bool();
            info.notify->attempts = static_cast<int>(d.at(1).to_number<std::int64_t>());
            if (d.at(2).is_string())
                info.notify->last_error = std::string(d.at(2).get_string());
        }
    }
    if (auto text = get_text(r, row, at + 25)) {
        j.snapshot = snapshot_from_json(*text);
        if (!j.snapshot)
            throw std::runtime_error("job " + info.id + " has an unreadable snapshot record");
        info.snapshot_id = j.snapshot->id;
        info.snapshot_reason = j.snapshot->reason;
        info.snapshot_at = timestamp(std::chrono::duration_cast<timestamp::duration>(
            std::chrono::microseconds(j.snapshot->taken_at_us)));
    }
    info.snapshot_restarts = static_cast<int>(get_int64(r, row, at + 26).value_or(0));
    info.error_code = get_text(r, row, at + 27);
    return j;
}

stored_job read_job(const PGresult* r, int row, fifo_cache<export_request>& parsed) {
    return read_job_at(r, row, 0, parsed);
}

std::vector<stored_job> read_jobs(const PGresult* r, fifo_cache<export_request>& parsed) {
    std::vector<stored_job> jobs;
    for (int i = 0; i < PQntuples(r); ++i)
        jobs.push_back(read_job(r, i, parsed));
    return jobs;
}

} // namespace pgexport::engine::detail
