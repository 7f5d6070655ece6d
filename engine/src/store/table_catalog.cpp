#include "store/table_catalog.hpp"

#include "format/sql.hpp"

#include <pgexport/log.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace json = boost::json;

namespace pgexport::engine::detail {

table_schema table_catalog::load_schema(const std::string& table, const std::string& key) {
    // Found once, by the name as configured; from then on by its OID, and written schema-qualified in every
    // statement: a table or type that someone creates later in a schema earlier on the search path never
    // takes the place of the one found here.
    result_ptr rel = session_.run("SELECT c.oid::text, c.oid::regclass::text,"
                                  " quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
                                  " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                  " WHERE c.oid = to_regclass($1)",
                                  {table});
    if (PQntuples(rel.get()) == 0)
        throw std::runtime_error("table \"" + table + "\" does not exist (see --table)");
    const std::string oid = *get_text(rel.get(), 0, 0);
    const std::string name = *get_text(rel.get(), 0, 1);
    table_schema schema{name, key, {}, *get_text(rel.get(), 0, 2)};
    result_ptr cols = session_.run(
        "SELECT a.attname, format_type(a.atttypid, NULL), NOT a.attnotnull, t.typtype::text,"
        " quote_ident(tn.nspname) || '.' || quote_ident(t.typname), format_type(a.atttypid, a.atttypmod)"
        " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace"
        " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        {oid});
    for (int i = 0; i < PQntuples(cols.get()); ++i) {
        std::string type = *get_text(cols.get(), i, 1);
        // Without their length, "character" and "bit" mean length 1: a cast to them would cut values short.
        // (The qualified internal names, pg_catalog.bpchar and pg_catalog."bit", take any length.)
        if (type == "character")
            type = "bpchar";
        else if (type == "bit")
            type = "bit varying";
        const bool nullable = get_text(cols.get(), i, 2) == std::optional<std::string>("t");
        column_info c{*get_text(cols.get(), i, 0), std::move(type), nullable, {}};
        c.sql_type = *get_text(cols.get(), i, 4);
        c.full_type = *get_text(cols.get(), i, 5);
        c.is_enum = get_text(cols.get(), i, 3) == std::optional<std::string>("e");
        schema.columns.push_back(std::move(c));
    }
    std::map<std::string, std::vector<filter_op>> by_type;
    for (std::size_t i = 0; i < schema.columns.size(); ++i) {
        auto& c = schema.columns[i];
        auto [it, fresh] = by_type.try_emplace(c.sql_type);
        if (fresh)
            it->second = operators_of(c.sql_type);
        c.operators = it->second;
        c.values = few_values(schema, c, get_text(cols.get(), static_cast<int>(i), 3).value_or(""));
    }
    const column_info* k = schema.find(key);
    if (!k)
        throw std::runtime_error("table " + name + " has no column \"" + key + "\" (see --key)");
    if (k->type != "bigint" && k->type != "integer" && k->type != "smallint")
        throw std::runtime_error("key column \"" + key + "\" of " + name + " is " + k->type +
                                 "; it must be an integer column (smallint, integer or bigint)");
    check_key_is_unique(schema, oid);
    return schema;
}

result<std::vector<std::string>> table_catalog::canonical_values(const std::string& column,
                                                                const std::string& type,
                                                                const std::vector<std::string>& texts) {
    try {
        // One round trip for a whole "in" list, not one per value: the catalog connection serves every
        // request's validation and the listing.
        result_ptr r = session_.run("SELECT u.x::" + type + "::text FROM unnest($1::text[]) WITH ORDINALITY"
                                    " AS u(x, n) ORDER BY u.n",
                                    {text_array(texts)});
        std::vector<std::string> out;
        out.reserve(texts.size());
        for (int i = 0; i < PQntuples(r.get()); ++i)
            out.push_back(*get_text(r.get(), i, 0));
        if (out.size() != texts.size())
            throw std::logic_error("canonical_values: " + std::to_string(texts.size()) + " values in, " +
                                   std::to_string(out.size()) + " out");
        return out;
    } catch (const pg_error& e) {
        if (e.sqlstate().starts_with("22") || e.sqlstate().starts_with("42"))
            return problem{errc::invalid_value, "filter \"" + column + "\": " + e.what()};
        throw;
    }
}

std::vector<filter_op> table_catalog::operators_of(const std::string& type) {
    // Asked of PostgreSQL's own operator resolution, as the export's WHERE clause will be: a type may lack
    // an operator (json has no "=", point no "<"), or resolve it only through a cast.
    static constexpr std::pair<filter_op, std::string_view> probes[] = {
        {filter_op::eq, "="}, {filter_op::ne, "<>"}, {filter_op::gt, ">"},
        {filter_op::gte, ">="}, {filter_op::lt, "<"}, {filter_op::lte, "<="}};
    std::vector<filter_op> ops;
    for (const auto& [op, symbol] : probes) {
        try {
            session_.run("SELECT NULL::" + type + " " + std::string(symbol) + " NULL::" + type);
        } catch (const pg_error& e) {
            if (!e.sqlstate().starts_with("42")) // 42883 no such operator, 42725 ambiguous
                throw;
            continue;
        }
        ops.push_back(op);
    }
    if (!ops.empty() && ops.front() == filter_op::eq)
        ops.push_back(filter_op::in); // IN (...) compares with "="
    return ops;
}

namespace {

// Rows the start-up scan of an unanalyzed table's text column reads at most.
constexpr int few_values_scan_rows = 100000;

} // namespace

std::vector<std::string> table_catalog::few_values(const table_schema& schema, const column_info& column,
                                                   const std::string& typtype) {
    const std::string& table = schema.table;
    const bool is_enum = typtype == "e";
    const bool is_text =
        column.type == "text" || column.type == "character varying" || column.type == "bpchar";
    if ((!is_enum && !is_text) || column.operators.empty() || column.operators.front() != filter_op::eq)
        return {};
    const std::string limit = std::to_string(max_listed_values + 1);
    try {
        result_ptr r;
        if (is_enum) {
            r = session_.run("SELECT unnest(enum_range(NULL::" + column.cast_type() + "))::text");
        } else {
            // ANALYZE's sample lists every value when all of them are common ones: their frequencies and
            // NULL's add up to the whole sample. Statistics that say otherwise are believed too.
            result_ptr stats = session_.run(
                "SELECT s.n_distinct > 0 AND s.n_distinct <= $3"
                " AND cardinality(s.most_common_vals::text::text[]) = s.n_distinct"
                " AND s.null_frac + (SELECT coalesce(sum(f), 0) FROM unnest(s.most_common_freqs) f) > 0.999,"
                " s.most_common_vals::text"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = $2"
                " WHERE c.oid = $1::regclass ORDER BY s.inherited DESC LIMIT 1",
                {schema.relation(), column.name, std::to_string(max_listed_values)});
            if (PQntuples(stats.get()) == 1) {
                if (get_text(stats.get(), 0, 0) != std::optional<std::string>("t"))
                    return {};
                r = session_.run("SELECT v FROM unnest($1::text[]) v ORDER BY v",
                                 {get_text(stats.get(), 0, 1)});
            } else {
                // Never analyzed: read a bounded number of rows; the list counts only when they were all.
                const std::string col = quote_identifier(column.name);
                const std::string rows = std::to_string(few_values_scan_rows);
                std::string sql = "WITH s AS MATERIALIZED (SELECT " + col + "::text AS v FROM " + schema.relation();
                sql += " WHERE " + col + " IS NOT NULL LIMIT " + rows + " + 1)";
                sql += " SELECT v, (SELECT count(*) <= " + rows + " FROM s)";
                sql += " FROM (SELECT DISTINCT v FROM s ORDER BY v LIMIT " + limit + ") d";
                r = session_.run(sql);
                if (PQntuples(r.get()) > 0 && get_text(r.get(), 0, 1) != std::optional<std::string>("t"))
                    return {};
            }
        }
        const int n = PQntuples(r.get());
        if (n == 0 || n > static_cast<int>(max_listed_values))
            return {};
        std::vector<std::string> values;
        values.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            values.push_back(get_text(r.get(), i, 0).value_or(""));
        return values;
    } catch (const pg_error& e) {
        // Only a hint for forms: the server serves the table without it.
        log_event("warning", "column_values_unknown",
                  {{"table", table}, {"column", column.name}, {"why", e.what()}});
        return {};
    }
}

void table_catalog::check_key_is_unique(const table_schema& schema, const std::string& oid) {
    const std::string& table = schema.table;
    const std::string& key = schema.key;
    // Keyset chunks (key > last ORDER BY key LIMIT n) skip rows that share a key across a chunk's end,
    // so the key must be unique. A unique index counts when it is on the key alone, not partial, and valid.
    result_ptr r = session_.run("SELECT c.relkind::text, a.attnotnull, EXISTS (SELECT FROM pg_index i"
                       " WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL"
                       " AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum)"
                       " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2"
                       " WHERE c.oid = $1::oid",
                       {oid, key});
    const std::string kind = get_text(r.get(), 0, 0).value_or("");
    const bool not_null = get_text(r.get(), 0, 1) == std::optional<std::string>("t");
    const bool unique = get_text(r.get(), 0, 2) == std::optional<std::string>("t");
    if (!unique && (kind == "r" || kind == "p" || kind == "m"))
        throw std::runtime_error("key column \"" + key + "\" of " + table +
                                 " is not covered by a unique index or primary key; rows that share a key"
                                 " would be skipped. Add one (CREATE UNIQUE INDEX ... (" + key +
                                 ")) or choose another --key");
    if (!unique)
        log_event("warning", "key_not_checked",
                  {{"table", table},
                   {"key", key},
                   {"why", "a view or foreign table has no index to prove its key unique; rows that share a"
                           " key would be skipped"}});
    else if (!not_null)
        log_event("warning", "key_nullable",
                  {{"table", table}, {"key", key}, {"why", "rows whose key is NULL are never exported"}});
}

table_catalog::fixed_end table_catalog::fixed_end_of(const table_schema& schema) {
    result_ptr r = session_.run("SELECT max(" + quote_identifier(schema.key) +
                                "), pg_current_wal_insert_lsn()::text FROM " + schema.relation());
    return {get_int64(r.get(), 0, 0), *get_text(r.get(), 0, 1)};
}

std::optional<std::int64_t> table_catalog::estimate_rows(const std::string& explain_sql) {
    result_ptr r = session_.run(explain_sql);
    json::value plan = json::parse(*get_text(r.get(), 0, 0));
    const json::value* rows = plan.at(0).at("Plan").get_object().if_contains("Plan Rows");
    if (!rows)
        return std::nullopt;
    return static_cast<std::int64_t>(rows->to_number<double>());
}

namespace {

std::vector<std::int64_t> keys_of(const PGresult* r) {
    std::vector<std::int64_t> keys;
    for (int i = 0; i < PQntuples(r); ++i)
        if (auto k = get_int64(r, i, 0))
            keys.push_back(*k);
    return keys;
}

} // namespace

std::vector<slice_bounds> table_catalog::plan_slices(const table_schema& schema,
                                                     const export_request& request,
                                                     std::optional<std::int64_t> after,
                                                     std::int64_t fixed_end, int n) {
    result_ptr rel = session_.run("SELECT c.relkind::text, greatest(pg_relation_size(c.oid) / 8192, 1),"
                                  " coalesce(s.n_mod_since_analyze, 0) < 0.1 * greatest(c.reltuples, 0)"
                                  " FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid"
                                  " WHERE c.oid = to_regclass($1)",
                                  {schema.relation()});
    const std::string kind = get_text(rel.get(), 0, 0).value_or("v");
    if (kind != "r" && kind != "m" && kind != "p")
        return even_key_ranges(schema, after, fixed_end, n); // a view cannot be sampled
    const double pages = static_cast<double>(get_int64(rel.get(), 0, 1).value_or(1));
    const bool fresh_statistics = get_text(rel.get(), 0, 2) == std::optional<std::string>("t");
    if (request.filters.empty() && fresh_statistics) {
        // Equal-frequency bounds of the whole column, as ANALYZE saw it.
        result_ptr h = session_.run(
            "SELECT unnest(s.histogram_bounds::text::bigint[]) FROM pg_stats s"
            " JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace ns ON ns.oid = c.relnamespace"
            " AND ns.nspname = s.schemaname WHERE c.oid = to_regclass($1) AND s.attname = $2",
            {schema.relation(), schema.key});
        auto bounds = keys_of(h.get());
        // An incremental export's range is the column's top: only the bounds in it tell where its rows are.
        std::erase_if(bounds, [after](std::int64_t k) { return after && k <= *after; });
        if (bounds.size() > static_cast<std::size_t>(4 * n)) {
            std::sort(bounds.begin(), bounds.end());
            return slices_from_sample(bounds, after, fixed_end, n);
        }
    }
    const double percent = std::min(100.0, 100.0 * 400.0 / pages);
    auto sample = run_bounded(key_sample_sql(schema, request, after, fixed_end, percent), sample_time_limit);
    if (!sample)
        return sample_too_slow(schema, after, fixed_end, n);
    auto keys = keys_of(sample->get());
    if (keys.size() < static_cast<std::size_t>(50 * n) && percent < 100.0) {
        // A selective filter: too few rows in the sample to cut by. Its selection is small, so exact.
        auto q = run_bounded(key_quantiles_sql(schema, request, after, fixed_end, n), sample_time_limit);
        if (!q)
            return sample_too_slow(schema, after, fixed_end, n);
        keys = keys_of(q->get());
        std::sort(keys.begin(), keys.end());
        // The quantiles are the cuts themselves: one key per cut, and the end closes the last slice.
        keys.push_back(fixed_end);
    }
    return slices_from_sample(keys, after, fixed_end, n);
}

std::optional<result_ptr> table_catalog::run_bounded(const std::string& sql, std::chrono::milliseconds limit) {
    try {
        return session_.transaction([&] {
            session_.run_once("SET LOCAL statement_timeout = " + std::to_string(limit.count()));
            return session_.run_once(sql);
        });
    } catch (const pg_error& e) {
        if (e.sqlstate() == "57014") // query_canceled: the limit
            return std::nullopt;
        throw;
    }
}

std::vector<slice_bounds> table_catalog::even_key_ranges(const table_schema& schema,
                                                         std::optional<std::int64_t> after,
                                                         std::int64_t fixed_end, int n) {
    const std::string key = quote_identifier(schema.key);
    result_ptr low = session_.run("SELECT min(" + key + ") FROM " + schema.relation() +
                                  (after ? " WHERE " + key + " > " + std::to_string(*after) : std::string()));
    return even_slices(after, get_int64(low.get(), 0, 0).value_or(fixed_end), fixed_end, n);
}

std::vector<slice_bounds> table_catalog::sample_too_slow(const table_schema& schema,
                                                         std::optional<std::int64_t> after,
                                                         std::int64_t fixed_end, int n) {
    // The catalog connection is what every export's creation waits for: a slow selection's sample must not
    // hold it. Even ranges may be unbalanced; the export is the same.
    log_event("warning", "slice_sample_slow",
              {{"table", schema.table},
               {"limit_ms", sample_time_limit.count()},
               {"why", "the key sample of the selection took too long; the job's slices are even key ranges"}});
    return even_key_ranges(schema, after, fixed_end, n);
}

bool table_catalog::in_recovery() {
    result_ptr r = session_.run("SELECT pg_is_in_recovery()");
    return get_text(r.get(), 0, 0) == std::optional<std::string>("t");
}

std::optional<std::string> table_catalog::system_identifier() {
    try {
        result_ptr r = session_.run("SELECT system_identifier::text FROM pg_control_system()");
        return get_text(r.get(), 0, 0);
    } catch (const pg_error& e) {
        if (e.sqlstate() == "42501") // insufficient privilege
            return std::nullopt;
        throw;
    }
}

std::vector<std::pair<std::int64_t, std::string>> table_catalog::records(const std::string& sql) {
    result_ptr r = session_.run(sql);
    std::vector<std::pair<std::int64_t, std::string>> rows;
    rows.reserve(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i)
        rows.emplace_back(*get_int64(r.get(), i, 0), *get_text(r.get(), i, 1));
    return rows;
}

} // namespace pgexport::engine::detail
