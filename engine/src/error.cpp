#include <pgexport/error.hpp>
#include <pgexport/job.hpp>
#include <pgexport/table_schema.hpp>

#include <chrono>
#include <cstdio>

namespace pgexport::engine {

std::string_view to_string(errc code) {
    switch (code) {
    case errc::invalid_request:
        return "invalid_request";
    case errc::unknown_column:
        return "unknown_column";
    case errc::unknown_operator:
        return "unknown_operator";
    case errc::invalid_value:
        return "invalid_value";
    case errc::not_found:
        return "not_found";
    case errc::conflict:
        return "conflict";
    case errc::unavailable:
        return "unavailable";
    case errc::too_busy:
    case errc::too_many_jobs:
        return "too_many_jobs";
    case errc::insufficient_storage:
        return "insufficient_storage";
    case errc::file_missing:
        return "file_missing";
    case errc::other_storage:
        return "other_storage";
    }
    return "error";
}

std::string_view to_string(job_status status) {
    switch (status) {
    case job_status::queued:
        return "queued";
    case job_status::running:
        return "running";
    case job_status::completed:
        return "completed";
    case job_status::failed:
        return "failed";
    case job_status::cancelled:
        return "cancelled";
    case job_status::expired:
        return "expired";
    }
    return "unknown";
}

std::optional<job_status> parse_job_status(std::string_view text) {
    for (auto s : {job_status::queued, job_status::running, job_status::completed, job_status::failed,
                   job_status::cancelled, job_status::expired})
        if (to_string(s) == text)
            return s;
    return std::nullopt;
}

std::string format_timestamp(timestamp t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const auto day = floor<days>(ms);
    const year_month_day ymd(day);
    const hh_mm_ss hms(ms - day);
    char buf[40];
    std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
        static_cast<long long>(hms.seconds().count()), static_cast<long long>(hms.subseconds().count()));
    return buf;
}

const column_info* table_schema::find(const std::string& name) const {
    for (const auto& c : columns)
        if (c.name == name)
            return &c;
    return nullptr;
}

} // namespace pgexport::engine
