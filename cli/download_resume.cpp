#include "download_resume.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace json = boost::json;

namespace pgexport::cli {

std::string format_part_record(const part_record& record) {
    json::object o;
    o["jobId"] = record.job_id;
    if (record.etag)
        o["etag"] = *record.etag;
    return json::serialize(o) + "\n";
}

std::optional<part_record> parse_part_record(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    const auto* id = o.if_contains("jobId");
    if (!id || !id->is_string() || id->get_string().empty())
        return std::nullopt;
    part_record record{std::string(id->get_string()), std::nullopt};
    if (const auto* etag = o.if_contains("etag")) {
        if (!etag->is_string())
            return std::nullopt;
        record.etag = std::string(etag->get_string());
    }
    return record;
}

resume_plan plan_resume(const std::optional<part_record>& record, std::string_view job_id,
                        std::optional<std::uint64_t> part_size, std::uint64_t expected) {
    if (!part_size)
        return {};
    if (!record)
        return {0, "nothing records which job it belongs to"};
    if (record->job_id != job_id)
        return {0, "it belongs to job " + record->job_id};
    if (*part_size > expected)
        return {0, "it is larger (" + std::to_string(*part_size) + " bytes) than the export (" +
                       std::to_string(expected) + " bytes)"};
    return {*part_size, ""};
}

std::optional<content_range> parse_content_range(std::string_view header) {
    constexpr std::string_view unit = "bytes ";
    if (!header.starts_with(unit))
        return std::nullopt;
    header.remove_prefix(unit.size());
    content_range r;
    auto number = [&](std::uint64_t& out, char end) {
        auto [p, ec] = std::from_chars(header.data(), header.data() + header.size(), out);
        if (ec != std::errc() || p == header.data())
            return false;
        header.remove_prefix(static_cast<std::size_t>(p - header.data()));
        if (end == '\0')
            return header.empty();
        if (header.empty() || header.front() != end)
            return false;
        header.remove_prefix(1);
        return true;
    };
    if (!number(r.first, '-') || !number(r.last, '/') || !number(r.total, '\0'))
        return std::nullopt;
    if (r.first > r.last || r.last >= r.total)
        return std::nullopt;
    return r;
}

bool is_strong_etag(std::string_view etag) {
    return etag.size() >= 2 && etag.front() == '"' && etag.back() == '"';
}

} // namespace pgexport::cli
