#include "format/sql.hpp"

#include "format/csv_row.hpp"
#include "format/parquet/pg_columns.hpp"

#include <cstdio>

namespace pgexport::engine::detail {

std::optional<std::string> planner_settings_sql(std::optional<double> random_page_cost) {
    if (!random_page_cost || !(*random_page_cost > 0) || *random_page_cost > 1e6)
        return std::nullopt;
    char value[32];
    std::snprintf(value, sizeof value, "%.6g", *random_page_cost);
    return std::string("SELECT set_config('random_page_cost', LEAST(current_setting('random_page_cost')::float8, ") +
           value + ")::text, false)";
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string quote_literal(std::string_view text) {
    const bool has_backslash = text.find('\\') != std::string_view::npos;
    std::string out = has_backslash ? " E'" : "'";
    for (char c : text) {
        if (c == '\'' || (has_backslash && c == '\\'))
            out += c;
        out += c;
    }
    out += '\'';
    return out;
}

std::vector<std::string> output_columns(const table_schema& schema, const export_request& request) {
    if (!request.columns.empty())
        return request.columns;
    std::vector<std::string> all;
    for (const auto& c : schema.columns)
        all.push_back(c.name);
    return all;
}

std::optional<problem> check_columns(const table_schema& schema, const export_request& request) {
    for (const auto& c : request.columns)
        if (!schema.find(c))
            return problem{errc::unknown_column, "unknown column \"" + c + "\" in \"columns\""};
    for (const auto& f : request.filters)
        if (!schema.find(f.column))
            return problem{errc::unknown_column, "unknown column \"" + f.column + "\" in \"filters\""};
    return std::nullopt;
}

std::string where_clause(const table_schema& schema, const export_request& request) {
    if (request.filters.empty())
        return "TRUE";
    std::string sql;
    for (const filter& f : request.filters) {
        const column_info* column = schema.find(f.column);
        if (!column)
            throw std::logic_error("where_clause: unchecked column " + f.column);
        const std::string lhs = quote_identifier(column->name);
        auto typed = [&](const std::string& v) { return quote_literal(v) + "::" + column->cast_type(); };
        if (!sql.empty())
            sql += " AND ";
        const auto& first = f.values.at(0);
        switch (f.op) {
        case filter_op::eq:
            sql += first ? lhs + " = " + typed(*first) : lhs + " IS NULL";
            break;
        case filter_op::ne:
            sql += first ? lhs + " <> " + typed(*first) : lhs + " IS NOT NULL";
            break;
        case filter_op::gt:
            sql += lhs + " > " + typed(*first);
            break;
        case filter_op::gte:
            sql += lhs + " >= " + typed(*first);
            break;
        case filter_op::lt:
            sql += lhs + " < " + typed(*first);
            break;
        case filter_op::lte:
            sql += lhs + " <= " + typed(*first);
            break;
        case filter_op::in: {
            sql += lhs + " IN (";
            for (std::size_t i = 0; i < f.values.size(); ++i) {
                if (i)
                    sql += ", ";
                sql += typed(f.values[i].value());
            }
            sql += ")";
            break;
        }
        }
    }
    return sql;
}

namespace {

std::string select_list(const table_schema& schema, const export_request& request) {
    std::string list;
    for (const auto& c : output_columns(schema, request)) {
        if (!list.empty())
            list += ", ";
        list += quote_identifier(c);
    }
    return list;
}

// " AND key > after AND key <= upper" (no lower bound when `after` is nullopt): the rows of a key range.
std::string key_range(const std::string& key, std::optional<std::int64_t> after, std::int64_t upper) {
    std::string sql;
    if (after)
        sql += " AND " + key + " > " + std::to_string(*after);
    return sql + " AND " + key + " <= " + std::to_string(upper);
}

} // namespace

bool key_leads(const table_schema& schema, const export_request& request) {
    const auto columns = output_columns(schema, request);
    return !columns.empty() && columns.front() == schema.key;
}

std::string copy_options(const export_request& request, bool header) {
    if (request.format == output_format::parquet)
        return "FORMAT binary";
    if (request.format == output_format::jsonl) {
        // Bytes that JSON text never holds (control characters are escaped in it): PostgreSQL has no reason
        // to quote or double anything, so each row is the key, the delimiter and row_to_json's text as is.
        std::string options = "FORMAT csv, DELIMITER ";
        options += quote_literal(std::string_view(&jsonl_delimiter, 1));
        options += ", QUOTE ";
        options += quote_literal(std::string_view(&jsonl_quote, 1));
        return options;
    }
    const csv_options& csv = request.csv;
    std::string options = "FORMAT csv";
    if (header)
        options += ", HEADER true";
    // Each only when it differs from COPY's default, so that the default export's statement stays as it was.
    if (csv.delimiter != ',') {
        options += ", DELIMITER ";
        options += quote_literal(std::string_view(&csv.delimiter, 1));
    }
    if (!csv.null.empty()) {
        options += ", NULL ";
        options += quote_literal(csv.null);
    }
    if (csv.force_quote)
        options += ", FORCE_QUOTE *";
    return options;
}

std::string chunk_copy_sql(const table_schema& schema, const export_request& request,
                           std::optional<std::int64_t> after, std::int64_t upper, int limit) {
    const std::string key = quote_identifier(schema.key);
    std::string columns;
    if (request.format == output_format::jsonl) {
        // The key, then the row's JSON: row_to_json of a row of the output columns, in order, under their
        // names (as records_page_sql).
        std::string fields;
        for (const auto& c : output_columns(schema, request)) {
            fields += fields.empty() ? "t." : ", t.";
            fields += quote_identifier(c);
        }
        columns = "t." + key + ", (SELECT row_to_json(r) FROM (SELECT " + fields + ") r)::text";
    } else if (request.format == output_format::parquet) {
        // The key, then each output column in its binary send form, or as its text where Parquet takes the
        // text (format/parquet/pg_columns.hpp).
        columns = key;
        for (const auto& plan : parquet::plan_export_columns(schema, request))
            columns += ", " + quote_identifier(plan.parquet.name) + (plan.as_text ? "::text" : "");
    } else {
        columns = key_leads(schema, request) ? select_list(schema, request) : key + ", " + select_list(schema, request);
    }
    std::string sql = "COPY (SELECT " + columns + " FROM " + schema.relation();
    if (request.format == output_format::jsonl)
        sql += " t";
    sql += " WHERE (" + where_clause(schema, request) + ")" + key_range(key, after, upper);
    sql += " ORDER BY " + key + " LIMIT " + std::to_string(limit) + ") TO STDOUT (" +
           copy_options(request, false) + ")";
    return sql;
}

std::optional<std::string> header_copy_sql(const table_schema& schema, const export_request& request) {
    if (request.format != output_format::csv || !request.csv.header)
        return std::nullopt;
    return "COPY (SELECT " + select_list(schema, request) + " FROM " + schema.relation() + " LIMIT 0) TO STDOUT (" +
           copy_options(request, true) + ")";
}

std::string records_page_sql(const table_schema& schema, const export_request& request,
                             std::optional<std::int64_t> after, int limit) {
    const std::string key = quote_identifier(schema.key);
    std::string columns;
    for (const auto& c : output_columns(schema, request))
        columns += (columns.empty() ? "t." : ", t.") + quote_identifier(c);
    std::string sql = "SELECT t." + key + ", (SELECT row_to_json(r) FROM (SELECT " + columns +
                      ") r)::text FROM " + schema.relation() + " t WHERE (" + where_clause(schema, request) + ")";
    if (after)
        sql += " AND t." + key + " > " + std::to_string(*after);
    sql += " ORDER BY t." + key + " LIMIT " + std::to_string(limit);
    return sql;
}

std::string estimate_sql(const table_schema& schema, const export_request& request,
                         std::optional<std::int64_t> after, std::int64_t upper) {
    return "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + schema.relation() + " WHERE (" +
           where_clause(schema, request) + ")" + key_range(quote_identifier(schema.key), after, upper);
}

std::string key_sample_sql(const table_schema& schema, const export_request& request,
                           std::optional<std::int64_t> after, std::int64_t upper, double percent) {
    const std::string key = quote_identifier(schema.key);
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.6f", percent);
    std::string sql = "SELECT " + key + " FROM " + schema.relation() + " TABLESAMPLE SYSTEM (";
    sql += pct;
    sql += ") WHERE (" + where_clause(schema, request) + ")" + key_range(key, after, upper);
    sql += " ORDER BY " + key;
    return sql;
}

std::string key_quantiles_sql(const table_schema& schema, const export_request& request,
                              std::optional<std::int64_t> after, std::int64_t upper, int n) {
    const std::string key = quote_identifier(schema.key);
    std::string fractions;
    for (int i = 1; i < n; ++i) {
        if (!fractions.empty())
            fractions += ", ";
        fractions += std::to_string(i) + "::float8 / " + std::to_string(n);
    }
    std::string sql = "SELECT unnest(percentile_disc(ARRAY[" + fractions + "]) WITHIN GROUP (ORDER BY " + key +
                      ")) FROM " + schema.relation();
    sql += " WHERE (" + where_clause(schema, request) + ")" + key_range(key, after, upper);
    return sql;
}

} // namespace pgexport::engine::detail
