// A request as JSON, the form it is stored in and shown with (parse_export_request reads it back the same).

#include <pgexport/request.hpp>

#include <boost/json.hpp>

namespace json = boost::json;

namespace pgexport::engine {

json::value to_json(const export_request& request) {
    json::object filters;
    for (const filter& f : request.filters) {
        json::value& entry = filters[f.column];
        if (!entry.is_object())
            entry = json::object();
        auto to_value = [](const std::optional<std::string>& v) {
            return v ? json::value(*v) : json::value(nullptr);
        };
        if (f.op == filter_op::in) {
            json::array values;
            for (const auto& v : f.values)
                values.push_back(to_value(v));
            entry.get_object()[to_string(f.op)] = std::move(values);
        } else {
            entry.get_object()[to_string(f.op)] = to_value(f.values.at(0));
        }
    }
    json::object out;
    out["filters"] = std::move(filters);
    json::array columns;
    for (const auto& c : request.columns)
        columns.emplace_back(c);
    if (!columns.empty())
        out["columns"] = std::move(columns);
    if (request.table)
        out["table"] = *request.table;
    // Written only when not the default, so that requests stored before formats existed read the same.
    if (request.format != output_format::csv)
        out["format"] = to_string(request.format);
    if (request.csv != csv_options{}) {
        json::object csv;
        csv["delimiter"] = std::string(1, request.csv.delimiter);
        csv["header"] = request.csv.header;
        csv["null"] = request.csv.null;
        csv["forceQuote"] = request.csv.force_quote;
        csv["bom"] = request.csv.bom;
        out["csv"] = std::move(csv);
    }
    if (request.compression != output_compression::none)
        out["compression"] = to_string(request.compression);
    if (request.parquet != parquet_options{}) {
        json::object parquet;
        parquet["compression"] = to_string(request.parquet.compression);
        parquet["rowGroupRows"] = request.parquet.row_group_rows;
        out["parquet"] = std::move(parquet);
    }
    if (request.parallelism != 1)
        out["parallelism"] = request.parallelism;
    if (request.consistency != export_consistency::chunked)
        out["consistency"] = to_string(request.consistency);
    if (request.notify) {
        json::array events;
        for (const auto& e : request.notify->events)
            events.emplace_back(e);
        out["notify"] = json::object{{"url", request.notify->url}, {"events", std::move(events)}};
    }
    return out;
}

} // namespace pgexport::engine
