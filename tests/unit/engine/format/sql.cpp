// The SQL builder: quoting, filters, chunk statements. No database.

#include "format/sql.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace pgexport::engine;
using namespace pgexport::engine::detail;

namespace {

table_schema sample_schema() {
    return {"public.\"My Table\"",
            "id",
            {{"id", "bigint"},
             {"name", "text"},
             {"amount", "numeric"},
             {"created_at", "timestamp with time zone"},
             {"we\"ird", "text"}}};
}

export_request parse(const char* json) {
    return parse_export_request(boost::json::parse(json)).value();
}

} // namespace

BOOST_AUTO_TEST_SUITE(sql)

BOOST_AUTO_TEST_CASE(quote_identifier_doubles_quotes) {
    BOOST_TEST(quote_identifier("id") == "\"id\"");
    BOOST_TEST(quote_identifier("we\"ird") == "\"we\"\"ird\"");
    BOOST_TEST(quote_identifier("") == "\"\"");
}

BOOST_AUTO_TEST_CASE(quote_literal_matches_pqescapeliteral) {
    const std::pair<std::string, std::string> cases[] = {
        {"abc", "'abc'"},
        {"", "''"},
        {"it's", "'it''s'"},
        {"x'); DROP TABLE t; --", "'x''); DROP TABLE t; --'"},
        {"back\\slash", " E'back\\\\slash'"},
        {"both ' and \\", " E'both '' and \\\\'"},
        {"日本語", "'日本語'"},
    };
    for (const auto& [input, expected] : cases) {
        BOOST_TEST_CONTEXT("input " << input) {
            BOOST_TEST(quote_literal(input) == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(where_clause_covers_every_operator) {
    const auto schema = sample_schema();
    const std::pair<const char*, std::string> cases[] = {
        {R"({})", "TRUE"},
        {R"({"filters": {"name": "bob"}})", "\"name\" = 'bob'::text"},
        {R"({"filters": {"name": ["a", "b"]}})", "\"name\" IN ('a'::text, 'b'::text)"},
        {R"({"filters": {"amount": {"gt": 10}}})", "\"amount\" > '10'::numeric"},
        {R"({"filters": {"amount": {"gte": 1.5, "lt": 2}}})",
         "\"amount\" >= '1.5'::numeric AND \"amount\" < '2'::numeric"},
        {R"({"filters": {"amount": {"lte": -3}}})", "\"amount\" <= '-3'::numeric"},
        {R"({"filters": {"name": {"ne": "x"}}})", "\"name\" <> 'x'::text"},
        {R"({"filters": {"name": null}})", "\"name\" IS NULL"},
        {R"({"filters": {"name": {"ne": null}}})", "\"name\" IS NOT NULL"},
        {R"({"filters": {"created_at": {"gte": "2024-01-01T00:00:00Z"}}})",
         "\"created_at\" >= '2024-01-01T00:00:00Z'::timestamp with time zone"},
        {R"({"filters": {"we\"ird": {"in": ["'"]}}})", "\"we\"\"ird\" IN (''''::text)"},
    };
    for (const auto& [json, expected] : cases) {
        BOOST_TEST_CONTEXT("request " << json) {
            BOOST_TEST(where_clause(schema, parse(json)) == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(chunk_sql_puts_the_key_first_and_bounds_it) {
    const auto schema = sample_schema();
    const auto request = parse(R"({"columns": ["name", "amount"], "filters": {"name": "bob"}})");
    BOOST_TEST(
        chunk_copy_sql(schema, request, std::nullopt, 500, 10000) ==
        "COPY (SELECT \"id\", \"name\", \"amount\" FROM public.\"My Table\" WHERE (\"name\" = 'bob'::text)"
        " AND \"id\" <= 500 ORDER BY \"id\" LIMIT 10000) TO STDOUT (FORMAT csv)");
    BOOST_TEST(
        chunk_copy_sql(schema, request, -7, 500, 3) ==
        "COPY (SELECT \"id\", \"name\", \"amount\" FROM public.\"My Table\" WHERE (\"name\" = 'bob'::text)"
        " AND \"id\" > -7 AND \"id\" <= 500 ORDER BY \"id\" LIMIT 3) TO STDOUT (FORMAT csv)");
}

// An incremental export ("since") plans over (from .. fixed end]: its estimate and its slices' sample and
// quantiles see only the rows above the from key.
BOOST_AUTO_TEST_CASE(planning_statements_bound_the_range_below_with_since) {
    const auto schema = sample_schema();
    const auto request = parse(R"({"filters": {"name": "bob"}})");
    const std::string range = "(\"name\" = 'bob'::text) AND \"id\" > 40 AND \"id\" <= 500";
    BOOST_TEST(estimate_sql(schema, request, 40, 500).ends_with(range));
    BOOST_TEST(key_sample_sql(schema, request, 40, 500, 1.5).find(range + " ORDER BY \"id\"") !=
               std::string::npos);
    BOOST_TEST(key_quantiles_sql(schema, request, 40, 500, 4).ends_with(range));
    BOOST_TEST(estimate_sql(schema, request, std::nullopt, 500)
                   .ends_with("(\"name\" = 'bob'::text) AND \"id\" <= 500"));
}

// Found by OID at start: the statements name the relation and the types schema-qualified, so that a table
// or type of the same name created later earlier on the search path is never the one read.
BOOST_AUTO_TEST_CASE(statements_use_the_qualified_names) {
    auto schema = sample_schema();
    schema.sql_name = "\"public\".\"My Table\"";
    schema.columns[2].sql_type = "pg_catalog.\"numeric\"";
    const auto request = parse(R"({"columns": ["amount"], "filters": {"amount": {"gt": 10}}})");
    BOOST_TEST(where_clause(schema, request) == "\"amount\" > '10'::pg_catalog.\"numeric\"");
    BOOST_TEST(chunk_copy_sql(schema, request, std::nullopt, 5, 1).find(" FROM \"public\".\"My Table\" WHERE") !=
               std::string::npos);
    BOOST_TEST(estimate_sql(schema, request, std::nullopt, 5).find(" FROM \"public\".\"My Table\" WHERE") !=
               std::string::npos);
    BOOST_TEST(header_copy_sql(schema, request).value_or("").find(" FROM \"public\".\"My Table\" LIMIT 0") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(chunk_sql_selects_a_leading_key_once) {
    const auto schema = sample_schema();
    BOOST_TEST(key_leads(schema, parse("{}")));
    BOOST_TEST(!key_leads(schema, parse(R"({"columns": ["name", "id"]})")));
    BOOST_TEST(
        chunk_copy_sql(schema, parse(R"({"columns": ["id", "amount"]})"), 3, 9, 2) ==
        "COPY (SELECT \"id\", \"amount\" FROM public.\"My Table\" WHERE (TRUE) AND \"id\" > 3 AND \"id\" <= 9"
        " ORDER BY \"id\" LIMIT 2) TO STDOUT (FORMAT csv)");
}

BOOST_AUTO_TEST_CASE(csv_options_become_copy_options) {
    const auto schema = sample_schema();
    const auto r = parse(R"({"columns": ["name"], "csv": {"delimiter": "\t", "null": "it's \\N",
                             "forceQuote": true}})");
    BOOST_TEST(copy_options(r, false) == "FORMAT csv, DELIMITER '\t', NULL  E'it''s \\\\N', FORCE_QUOTE *");
    BOOST_TEST(chunk_copy_sql(schema, r, std::nullopt, 9, 2) ==
               "COPY (SELECT \"id\", \"name\" FROM public.\"My Table\" WHERE (TRUE) AND \"id\" <= 9 ORDER BY \"id\""
               " LIMIT 2) TO STDOUT (FORMAT csv, DELIMITER '\t', NULL  E'it''s \\\\N', FORCE_QUOTE *)");
    BOOST_TEST(header_copy_sql(schema, r).value() ==
               "COPY (SELECT \"name\" FROM public.\"My Table\" LIMIT 0) TO STDOUT (FORMAT csv, HEADER true, "
               "DELIMITER '\t', NULL  E'it''s \\\\N', FORCE_QUOTE *)");
    BOOST_TEST(!header_copy_sql(schema, parse(R"({"csv": {"header": false}})")));
    BOOST_TEST(!header_copy_sql(schema, parse(R"({"format": "jsonl"})")));
    BOOST_TEST(copy_options(parse("{}"), true) == "FORMAT csv, HEADER true");
}

BOOST_AUTO_TEST_CASE(jsonl_chunks_select_the_key_and_row_to_json) {
    const auto schema = sample_schema();
    const auto r = parse(R"({"format": "jsonl", "columns": ["amount", "we\"ird"], "filters": {"name": "x"}})");
    BOOST_TEST(chunk_copy_sql(schema, r, 4, 9, 2) ==
               "COPY (SELECT t.\"id\", (SELECT row_to_json(r) FROM (SELECT t.\"amount\", t.\"we\"\"ird\") r)::text "
               "FROM public.\"My Table\" t WHERE (\"name\" = 'x'::text) AND \"id\" > 4 AND \"id\" <= 9 ORDER BY "
               "\"id\" LIMIT 2) TO STDOUT (FORMAT csv, DELIMITER '\x02', QUOTE '\x01')");
}

BOOST_AUTO_TEST_CASE(parquet_chunks_are_binary_with_text_where_parquet_takes_text) {
    // numeric without a typmod has no DECIMAL(p,s): its text, in a STRING column.
    const auto schema = sample_schema();
    const auto r = parse(R"({"format": "parquet", "columns": ["amount", "created_at", "we\"ird"]})");
    BOOST_TEST(chunk_copy_sql(schema, r, std::nullopt, 9, 2) ==
               "COPY (SELECT \"id\", \"amount\"::text, \"created_at\", \"we\"\"ird\" FROM public.\"My Table\" "
               "WHERE (TRUE) AND \"id\" <= 9 ORDER BY \"id\" LIMIT 2) TO STDOUT (FORMAT binary)");
    BOOST_TEST(!header_copy_sql(schema, r));
}

BOOST_AUTO_TEST_CASE(header_sql_and_default_columns) {
    const auto schema = sample_schema();
    BOOST_TEST(
        header_copy_sql(schema, parse("{}")).value() ==
        "COPY (SELECT \"id\", \"name\", \"amount\", \"created_at\", \"we\"\"ird\" FROM public.\"My Table\" "
        "LIMIT 0) TO STDOUT (FORMAT csv, HEADER true)");
    BOOST_TEST(output_columns(schema, parse(R"({"columns": ["amount"]})")) ==
               std::vector<std::string>{"amount"});
}

BOOST_AUTO_TEST_CASE(check_columns_names_the_unknown_one) {
    const auto schema = sample_schema();
    BOOST_TEST(!check_columns(schema, parse(R"({"columns": ["name"], "filters": {"amount": 1}})")));
    auto p = check_columns(schema, parse(R"({"columns": ["nope"]})"));
    BOOST_REQUIRE(p);
    BOOST_TEST(p->code == errc::unknown_column);
    BOOST_TEST(p->message.find("nope") != std::string::npos);
    p = check_columns(schema, parse(R"({"filters": {"ID": 1}})"));
    BOOST_REQUIRE(p);
    BOOST_TEST(p->message.find("ID") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(planner_settings_lower_random_page_cost_only) {
    using pgexport::engine::detail::planner_settings_sql;
    BOOST_TEST(!planner_settings_sql(std::nullopt).has_value());
    BOOST_TEST(!planner_settings_sql(0.0).has_value());
    BOOST_TEST(!planner_settings_sql(-1.0).has_value());
    BOOST_TEST(!planner_settings_sql(std::nan("")).has_value());
    const auto sql = planner_settings_sql(1.1);
    BOOST_REQUIRE(sql.has_value());
    BOOST_TEST(*sql == "SELECT set_config('random_page_cost', LEAST(current_setting('random_page_cost')::float8, 1.1)::text, false)");
}
