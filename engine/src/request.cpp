#include <pgexport/request.hpp>

#include "format/output_options.hpp"
#include "policy/webhook_target.hpp"
#include "util/text_checks.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

namespace json = boost::json;

namespace pgexport::engine {

using detail::check_text;
using detail::invalid;
using detail::parse_csv_options;
using detail::parse_parquet_options;

namespace {

constexpr std::array<std::pair<std::string_view, filter_op>, 7> operators = {{
    {"eq", filter_op::eq},
    {"ne", filter_op::ne},
    {"gt", filter_op::gt},
    {"gte", filter_op::gte},
    {"lt", filter_op::lt},
    {"lte", filter_op::lte},
    {"in", filter_op::in},
}};

constexpr std::string_view known_fields = "\"filters\", \"columns\", \"table\", \"format\", \"csv\", \"compression\","
                                          " \"parquet\", \"parallelism\", \"consistency\" and \"notify\"";

// A scalar JSON value as the text PostgreSQL will parse; nullopt for null.
result<std::optional<std::string>> scalar_text(const json::value& v, const std::string& column) {
    switch (v.kind()) {
    case json::kind::null:
        return std::optional<std::string>{};
    case json::kind::bool_:
        return std::optional<std::string>{v.get_bool() ? "true" : "false"};
    case json::kind::int64:
        return std::optional<std::string>{std::to_string(v.get_int64())};
    case json::kind::uint64:
        return std::optional<std::string>{std::to_string(v.get_uint64())};
    case json::kind::double_: {
        // The shortest text that reads back as the same double: 1.25, not Boost.JSON's 1.25E0.
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        return std::optional<std::string>{std::string(buf, end)};
    }
    case json::kind::string: {
        const json::string& s = v.get_string();
        if (auto p = check_text(s, "the value for filter \"" + column + "\""))
            return *p;
        return std::optional<std::string>{std::string(s)};
    }
    default:
        return invalid("the value for filter \"" + column + "\" must be a string, number, boolean or null");
    }
}

// 100000 as "100,000", for messages.
std::string with_commas(std::size_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

result<filter> make_filter(const std::string& column, filter_op op, const json::value& v,
                           const request_limits& limits) {
    filter f{column, op, {}};
    if (op == filter_op::in) {
        if (!v.is_array())
            return invalid("filter \"" + column + "\": \"in\" takes an array of values");
        const json::array& items = v.get_array();
        if (items.empty())
            return invalid("filter \"" + column + "\": \"in\" needs at least one value");
        if (items.size() > limits.max_in_values)
            return invalid("filter \"" + column + "\": \"in\" has " + with_commas(items.size()) +
                           " values; at most " + with_commas(limits.max_in_values) +
                           " are allowed in one list (split the export, or filter by a range)");
        for (const json::value& item : items) {
            auto text = scalar_text(item, column);
            if (!text)
                return text.error();
            if (!*text)
                return invalid("filter \"" + column + "\": \"in\" cannot hold null; use {\"eq\": null}");
            f.values.push_back(std::move(*text));
        }
        return f;
    }
    auto text = scalar_text(v, column);
    if (!text)
        return text.error();
    if (!*text && op != filter_op::eq && op != filter_op::ne)
        return invalid("filter \"" + column + "\": null is allowed only with eq and ne");
    f.values.push_back(std::move(*text));
    return f;
}

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

// The "notify" object: {"url": "http[s]://…", "events": [...]} (events: every one when left out).
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

} // namespace

std::string_view to_string(filter_op op) {
    for (const auto& [name, value] : operators)
        if (value == op)
            return name;
    return "?";
}

std::string_view to_string(export_consistency consistency) {
    return consistency == export_consistency::snapshot ? "snapshot" : "chunked";
}

result<export_request> parse_export_request(const json::value& body, const request_limits& limits) {
    if (!body.is_object())
        return invalid("the request body must be a JSON object");
    export_request request;
    bool csv_given = false;
    bool parquet_given = false;
    std::size_t filter_values = 0;
    // Counted as filters are added, so that a body of many lists is refused before it is all converted.
    auto add = [&](filter f) -> std::optional<problem> {
        filter_values += f.values.size();
        if (filter_values > limits.max_filter_values)
            return invalid("the filters hold more than " + with_commas(limits.max_filter_values) +
                           " values in all, the most one request may hold (split the export, or filter by a"
                           " range)");
        request.filters.push_back(std::move(f));
        return std::nullopt;
    };
    for (const auto& [key, value] : body.get_object()) {
        if (key == "filters") {
            if (value.is_null())
                continue;
            if (!value.is_object())
                return invalid("\"filters\" must be an object of column: condition");
            for (const auto& [raw_column, condition] : value.get_object()) {
                if (auto p = check_text(raw_column, "a filter's column name"))
                    return *p;
                const std::string column(raw_column);
                if (condition.is_object()) {
                    if (condition.get_object().empty())
                        return invalid("filter \"" + column +
                                       "\" has no operator; use eq, ne, gt, gte, lt, lte or in");
                    for (const auto& entry : condition.get_object()) {
                        const std::string_view op_name = entry.key();
                        const json::value& operand = entry.value();
                        auto it = std::find_if(operators.begin(), operators.end(),
                                               [&](const auto& o) { return o.first == op_name; });
                        if (it == operators.end()) {
                            problem p{errc::unknown_operator,
                                      "filter \"" + column + "\": unknown operator \"" +
                                          std::string(op_name) + "\"; use eq, ne, gt, gte, lt, lte or in"};
                            if (check_text(op_name, "operator"))
                                p.message = "filter \"" + column + "\": unknown operator";
                            return p;
                        }
                        auto f = make_filter(column, it->second, operand, limits);
                        if (!f)
                            return f.error();
                        if (auto p = add(std::move(*f)))
                            return *p;
                    }
                } else {
                    auto f = make_filter(column, condition.is_array() ? filter_op::in : filter_op::eq,
                                         condition, limits);
                    if (!f)
                        return f.error();
                    if (auto p = add(std::move(*f)))
                        return *p;
                }
            }
        } else if (key == "columns") {
            if (value.is_null())
                continue;
            if (!value.is_array())
                return invalid("\"columns\" must be an array of column names");
            if (value.get_array().size() > limits.max_columns)
                return invalid("\"columns\" names " + with_commas(value.get_array().size()) + " columns; at most " +
                               with_commas(limits.max_columns) + " are allowed");
            for (const json::value& c : value.get_array()) {
                if (!c.is_string())
                    return invalid("\"columns\" must hold only strings");
                if (auto p = check_text(c.get_string(), "a column name"))
                    return *p;
                request.columns.emplace_back(c.get_string());
            }
            if (request.columns.empty())
                return invalid("\"columns\" must name at least one column; leave it out for all columns");
        } else if (key == "table") {
            if (value.is_null())
                continue;
            if (!value.is_string() || value.get_string().empty())
                return invalid("\"table\" must be the name of one of the server's tables");
            if (auto p = check_text(value.get_string(), "the table's name"))
                return *p;
            request.table = std::string(value.get_string());
        } else if (key == "format") {
            if (value.is_null())
                continue;
            if (value.is_string() && value.get_string() == "csv")
                request.format = output_format::csv;
            else if (value.is_string() && value.get_string() == "jsonl")
                request.format = output_format::jsonl;
            else if (value.is_string() && value.get_string() == "parquet")
                request.format = output_format::parquet;
            else
                return invalid("\"format\" must be \"csv\", \"jsonl\" or \"parquet\"");
        } else if (key == "compression") {
            if (value.is_null())
                continue;
            if (value.is_string() && value.get_string() == "none")
                request.compression = output_compression::none;
            else if (value.is_string() && value.get_string() == "gzip")
                request.compression = output_compression::gzip;
            else
                return invalid("\"compression\" must be \"none\" or \"gzip\"");
        } else if (key == "parallelism") {
            if (value.is_null())
                continue;
            const auto n = value.if_int64();
            if (!n || *n < 1 || *n > max_request_parallelism) {
                std::string message = "\"parallelism\" must be a whole number from 1 to ";
                message += std::to_string(max_request_parallelism);
                message += ": how many connections export slices of the rows at once";
                return invalid(std::move(message));
            }
            request.parallelism = static_cast<int>(*n);
        } else if (key == "consistency") {
            if (value.is_null())
                continue;
            if (value.is_string() && value.get_string() == "chunked")
                request.consistency = export_consistency::chunked;
            else if (value.is_string() && value.get_string() == "snapshot")
                request.consistency = export_consistency::snapshot;
            else
                return invalid("\"consistency\" must be \"chunked\" or \"snapshot\"");
        } else if (key == "notify") {
            if (value.is_null())
                continue;
            auto notify = parse_notify(value);
            if (!notify)
                return notify.error();
            request.notify = std::move(*notify);
        } else if (key == "csv") {
            if (value.is_null())
                continue;
            auto csv = parse_csv_options(value);
            if (!csv)
                return csv.error();
            request.csv = std::move(*csv);
            csv_given = true;
        } else if (key == "parquet") {
            if (value.is_null())
                continue;
            auto parquet = parse_parquet_options(value);
            if (!parquet)
                return parquet.error();
            request.parquet = *parquet;
            parquet_given = true;
        } else {
            if (check_text(key, "field"))
                return invalid("unknown field in the request; expected " + std::string(known_fields));
            return invalid("unknown field \"" + std::string(key) + "\"; expected " + std::string(known_fields));
        }
    }
    if (csv_given && request.format != output_format::csv)
        return invalid("\"csv\" options apply only to \"format\": \"csv\"; leave them out for " +
                       std::string(to_string(request.format)));
    if (parquet_given && request.format != output_format::parquet)
        return invalid("\"parquet\" options apply only to \"format\": \"parquet\"; leave them out for " +
                       std::string(to_string(request.format)));
    if (request.format == output_format::parquet && request.compression == output_compression::gzip)
        return invalid("\"compression\": \"gzip\" does not apply to \"format\": \"parquet\", whose pages are"
                       " compressed inside the file; choose their codec with \"parquet\": {\"compression\":"
                       " \"zstd\", \"snappy\" or \"none\"}");
    return request;
}

} // namespace pgexport::engine
