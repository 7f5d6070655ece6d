#include "policy/sweep_policy.hpp"

#include <algorithm>

namespace pgexport::engine::detail {

namespace {

bool is_lower_uuid(std::string_view s) {
    if (s.size() != 36)
        return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool is_token(std::string_view s) {
    return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool has_ended(job_status s) {
    return s != job_status::queued && s != job_status::running;
}

} // namespace

std::optional<export_file_name> parse_export_file_name(std::string_view name) {
    constexpr std::size_t id_size = 36;
    if (name.size() <= id_size || !is_lower_uuid(name.substr(0, id_size)))
        return std::nullopt;
    export_file_name file{std::string(name.substr(0, id_size))};
    const std::string_view rest = name.substr(id_size);
    if (rest == ".csv") {
        file.kind = export_file_kind::finished;
        return file;
    }
    constexpr std::string_view part_suffix = ".csv.part";
    if (!rest.ends_with(part_suffix))
        return std::nullopt;
    std::string_view middle = rest.substr(0, rest.size() - part_suffix.size());
    // A parallel job's slice: <job>.<token>.s<k>.csv.part.
    if (const auto s = middle.rfind(".s"); s != std::string_view::npos && s > 0 && is_token(middle.substr(s + 2)))
        middle = middle.substr(0, s);
    if (!middle.empty() && !(middle.front() == '.' && is_token(middle.substr(1))))
        return std::nullopt;
    file.kind = export_file_kind::partial;
    return file;
}

bool is_orphan(export_file_kind kind, std::optional<job_status> status) {
    if (!status)
        return true;
    if (kind == export_file_kind::partial)
        return has_ended(*status);
    return has_ended(*status) && *status != job_status::completed;
}

std::chrono::milliseconds sweep_interval(std::chrono::milliseconds retention, double unit_random) {
    using std::chrono::milliseconds;
    const milliseconds base = std::clamp(retention / 4, milliseconds(100), milliseconds(60'000));
    const double factor = 0.8 + 0.4 * std::clamp(unit_random, 0.0, 1.0);
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(base.count()) * factor));
}

std::optional<timestamp> expiry_of(const job_info& job, std::chrono::milliseconds retention) {
    if (!has_ended(job.status) || !job.finished_at)
        return std::nullopt;
    return *job.finished_at + std::chrono::duration_cast<timestamp::duration>(retention);
}

} // namespace pgexport::engine::detail
