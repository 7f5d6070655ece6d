#include "format/request_fields.hpp"

#include "policy/webhook_target.hpp"
#include "util/text_checks.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace json = boost::json;

namespace pgexport::engine {

namespace detail {

namespace {

std::string events_list() {
    std::string names;
    for (const std::string_view e : notify_events) {
        if (!names.empty())
            names += e == notify_events[std::size(notify_events) - 1] ? " or " : ", ";
        names += '"';
        names += e;
        names += '"';
    }
    return names;
}

} // namespace

result<notify_request> parse_notify(const json::value& value) {
    if (!value.is_object())
        return invalid("\"notify\" must be an object: {\"url\": \"https://…\", \"events\": [...]}");
    notify_request notify;
    bool url_given = false;
    std::vector<std::string_view> asked;
    for (const auto& [key, field] : value.get_object()) {
        if (key == "url") {
            if (!field.is_string())
                return invalid("\"notify\": \"url\" must be a string, an http:// or https:// URL");
            auto url = detail::parse_webhook_url(field.get_string());
            if (!url)
                return url.error();
            notify.url = std::string(field.get_string());
            url_given = true;
        } else if (key == "events") {
            if (!field.is_array() || field.get_array().empty())
                return invalid("\"notify\": \"events\" must be a non-empty array of " + events_list());
            for (const json::value& e : field.get_array()) {
                const auto* name = e.if_string();
                const auto* known = name ? std::find(std::begin(notify_events), std::end(notify_events),
                                                     std::string_view(*name))
                                         : std::end(notify_events);
                if (known == std::end(notify_events))
                    return invalid("\"notify\": \"events\" may hold only " + events_list());
                asked.push_back(*known);
            }
        } else {
            if (check_text(key, "field"))
                return invalid("\"notify\" has an unknown field; expected \"url\" and \"events\"");
            return invalid("\"notify\" has an unknown field \"" + std::string(key) +
                           "\"; expected \"url\" and \"events\"");
        }
    }
    if (!url_given)
        return invalid("\"notify\" needs a \"url\"");
    // In the one order, each once: a stored request reads back equal, and the outbox asks it by name.
    for (const std::string_view e : notify_events)
        if (asked.empty() || std::find(asked.begin(), asked.end(), e) != asked.end())
            notify.events.emplace_back(e);
    return notify;
}

result<since_request> parse_since(const json::value& value, const json::object& body) {
    const auto* text = value.if_string();
    auto id = text ? normalize_job_id(*text) : std::nullopt;
    if (!id)
        return invalid(
            "\"since\" must be the id of an earlier export job (a UUID): the new export holds the rows"
            " whose key is above that job's fixed end");
    auto left_out = [&body](std::string_view field) {
        const json::value* v = body.if_contains(field);
        return !v || v->is_null();
    };
    since_request since{std::move(*id), {}};
    since.inherit = {left_out("table"), left_out("filters"),     left_out("columns"), left_out("format"),
                     left_out("csv"),   left_out("compression"), left_out("parquet"), left_out("consistency")};
    return since;
}

std::optional<problem> check_since_job(const job_info& earlier, const std::string& earlier_table,
                                       const std::optional<std::string>& table) {
    const std::string named = "\"since\": the export job " + earlier.id;
    if (earlier.status != job_status::completed && earlier.status != job_status::expired)
        return invalid(
            named + " is " + std::string(to_string(earlier.status)) +
            "; only a completed (or expired) job has a fixed end that the next export can start after");
    if (table && *table != earlier_table)
        return invalid(named + " exported the table \"" + earlier_table + "\", not \"" + *table +
                       "\"; an incremental export continues the same table (leave \"table\" out to take the"
                       " earlier job's)");
    return std::nullopt;
}

} // namespace detail

export_request inherit_request(export_request request, const export_request& earlier) {
    if (!request.since)
        return request;
    const inherited_fields take = request.since->inherit;
    if (take.table)
        request.table = earlier.table;
    if (take.filters)
        request.filters = earlier.filters;
    if (take.columns)
        request.columns = earlier.columns;
    if (take.format)
        request.format = earlier.format;
    // Options of the format the request ends up with, and only when the earlier job had that format too.
    if (take.csv && request.format == output_format::csv && earlier.format == output_format::csv)
        request.csv = earlier.csv;
    if (take.parquet && request.format == output_format::parquet && earlier.format == output_format::parquet)
        request.parquet = earlier.parquet;
    if (take.compression && request.format != output_format::parquet)
        request.compression = earlier.compression;
    if (take.consistency)
        request.consistency = earlier.consistency;
    request.since->inherit = {};
    return request;
}

} // namespace pgexport::engine
