// The CSV the export engine writes, against a real PostgreSQL: CSV-hostile rows (quotes, commas, line
// breaks, a lone \., Unicode, rows over 1 MiB, also through a tiny write buffer), keys with gaps, negative
// keys and bigint's extremes in chunks of every size, an integer key and quoted schema, table and column
// names. Every finished file must equal, byte for byte, what PostgreSQL's own COPY ... (FORMAT csv, HEADER
// true) writes for the same SELECT (CONTRACT.md, "The CSV file").
//
// Each test builds its own table in a scratch database, runs an export_engine with a data directory of its
// own, and compares the files with scratch_database::copy_csv (tests/support/engine_fixture.hpp).

#include "engine_fixture.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace pgexport::engine;
using namespace pgexport::test;

BOOST_AUTO_TEST_SUITE(export_output)

// 6. CSV-hostile data, a lone \. (which PostgreSQL quotes when it is the only column) and a row over 1 MiB.
BOOST_AUTO_TEST_CASE(csv_hostile_rows) {
    test_env env(standard_table + R"SQL(
        INSERT INTO t (category, status, description) VALUES
            ('quote', 'a', 'say "hi"'), ('quote', 'b', '"'), ('quote', 'c', '""'), ('quote', 'd', '"start'),
            ('comma', 'a', 'a,b,c'), ('comma', 'b', ','), ('comma', 'c', ', '),
            ('cr', 'a', E'a\rb'), ('lf', 'a', E'a\nb'), ('crlf', 'a', E'a\r\nb'), ('lf', 'b', E'\n'),
            ('crlf', 'b', E'\r\n'), ('cr', 'b', E'\r'), ('lf', 'c', E'end\n'), ('lf', 'd', E'\nstart'),
            ('null', 'a', NULL), ('empty', 'a', ''), ('space', 'a', ' '), ('space', 'b', '  padded  '),
            ('unicode', 'a', 'héllo wörld — ☃ 😀 👩‍👩‍👧 𝄞 中文 ﻿bom'), ('unicode', 'b', '😀'),
            ('dot', 'a', E'\\.'), ('dot', 'b', E'\\.x'), ('dot', 'c', E'x\\.'), ('dot', 'd', E'\\.\n'),
            ('dot', 'e', E'\\'), ('dot', 'f', E'\\.\\.'), ('dot', 'g', '.'), ('dot', 'h', E'\\.'),
            ('backslash', 'a', E'back\\slash'), ('backslash', 'b', E'\\N'), ('tab', 'a', E'a\tb'),
            ('big', 'a', repeat('x', 1100000)), ('big', 'b', repeat('"', 600000)),
            ('big', 'c', repeat(E'ab,\n"', 300000)),
            (NULL, NULL, NULL), ('', '', ''), ('"', ',', E'\\.');
        INSERT INTO t (category, description) SELECT 'filler', 'f' || i FROM generate_series(1, 30) AS i;
        INSERT INTO t (category, status, description) VALUES ('dot', 'z', E'\\.'), ('big', 'z', repeat('y', 1048576));
    )SQL");
    const std::vector<export_case> cases = {
        {"all columns", R"({})"},
        {"description only", R"({"columns": ["description"]})", "", "description"},
        {"lone \\. single column", R"({"columns": ["description"], "filters": {"category": "dot"}})",
         "category = 'dot'", "description"},
        {"\\. single column, by value", R"({"columns": ["description"], "filters": {"description": "\\."}})",
         "description = E'\\\\.'", "description"},
        {"\\. among several columns",
         R"({"columns": ["description", "status"], "filters": {"category": "dot"}})", "category = 'dot'",
         "description, status"},
        {"\\. last of several columns",
         R"({"columns": ["status", "description"], "filters": {"category": "dot"}})", "category = 'dot'",
         "status, description"},
        {"null only, single column", R"({"columns": ["description"], "filters": {"category": "null"}})",
         "category = 'null'", "description"},
        {"empty only, single column", R"({"columns": ["description"], "filters": {"category": "empty"}})",
         "category = 'empty'", "description"},
        {"null vs empty",
         R"({"columns": ["category", "description"], "filters": {"category": ["null", "empty", ""]}})",
         "category IN ('null', 'empty', '')", "category, description"},
        {"quotes and commas",
         R"({"columns": ["description"], "filters": {"category": ["quote", "comma", "\""]}})",
         "category IN ('quote', 'comma', '\"')", "description"},
        {"line breaks", R"({"filters": {"category": {"in": ["cr", "lf", "crlf"]}}})",
         "category IN ('cr', 'lf', 'crlf')"},
        {"filter on CRLF value", R"({"filters": {"description": "a\r\nb"}})", "description = E'a\\r\\nb'"},
        {"filter on quotes", R"({"filters": {"description": "say \"hi\""}})", "description = 'say \"hi\"'"},
        {"filter on unicode", R"({"filters": {"description": {"gte": "😀"}}})", "description >= '😀'"},
        {"big rows", R"({"filters": {"category": "big"}})", "category = 'big'"},
        {"big rows, single column", R"({"filters": {"category": "big"}, "columns": ["description"]})",
         "category = 'big'", "description"},
    };
    check_cases(env, env.config(7), cases);
    // Again with a tiny write buffer, so that rows straddle many flushes.
    auto small_buffer = env.config(3);
    small_buffer.write_buffer_bytes = 1000;
    check_cases(env, small_buffer, {cases[0], cases[2], cases[10], cases[14], cases[15]});
}

// 8. Gaps in the key, negative keys, the extremes of bigint, an integer key, quoted names.
BOOST_AUTO_TEST_CASE(key_gaps_and_negative_keys) {
    test_env env(R"SQL(
        CREATE TABLE t (id bigint PRIMARY KEY, category text, amount numeric(12,2), description text);
        INSERT INTO t SELECT i, (ARRAY['a','b','c'])[1 + abs(i) % 3], i / 7.0, 'row ' || i FROM generate_series(-300, 300) AS i;
        DELETE FROM t WHERE id BETWEEN -250 AND -200 OR id BETWEEN -5 AND 5 OR id BETWEEN 100 AND 199
                         OR id BETWEEN 250 AND 260 OR id % 11 = 0;
        INSERT INTO t VALUES (-9223372036854775808, 'a', 1, 'min'), (9223372036854775807, 'b', 2, 'max'),
                             (1000000000000, 'c', 3, 'trillion'), (-1000000000000, 'a', 4, 'minus trillion');
    )SQL");
    const std::string columns = "id, category, amount, description";
    const std::vector<export_case> cases = {
        {"all", R"({})"},
        {"negative only", R"({"filters": {"id": {"lt": 0}}})", "id < 0"},
        {"around zero", R"({"filters": {"id": {"gte": -10, "lte": 10}}})", "id >= -10 AND id <= 10"},
        {"category", R"({"filters": {"category": "a"}, "columns": ["description", "id"]})", "category = 'a'",
         "description, id"},
        {"extremes", R"({"filters": {"id": [-9223372036854775808, 9223372036854775807]}})",
         "id IN (-9223372036854775808, 9223372036854775807)"},
        {"above a trillion", R"({"filters": {"id": {"gt": 999999999999}}})", "id > 999999999999"},
    };
    for (int chunk : {3, 1000}) {
        auto config = env.config(chunk);
        config.max_concurrent = 3;
        check_cases(env, config, cases, columns);
    }
    // Chunks of one row, on the negative half and the extremes.
    check_cases(env, env.config(1), {cases[1], cases[4]}, columns);
}

BOOST_AUTO_TEST_CASE(integer_key_and_quoted_names) {
    test_env env(R"SQL(
        CREATE SCHEMA "Other Schema";
        CREATE TABLE "Other Schema"."My Table" ("Key" integer PRIMARY KEY, "Name, ""quoted""" text, "select" text,
                                                 "CamelCase" numeric);
        INSERT INTO "Other Schema"."My Table"
            SELECT i * 3, 'n' || (i % 4), CASE WHEN i % 2 = 0 THEN 'x' END, i FROM generate_series(-20, 60) AS i;
    )SQL");
    const std::string table = R"("Other Schema"."My Table")";
    const std::string all = R"("Key", "Name, ""quoted""", "select", "CamelCase")";
    const std::vector<export_case> cases = {
        {"all", R"({})"},
        {"quoted filter", R"({"filters": {"Name, \"quoted\"": "n1"}})", R"("Name, ""quoted""" = 'n1')"},
        {"keyword filter", R"({"filters": {"select": null, "CamelCase": {"gt": 0}}})",
         R"("select" IS NULL AND "CamelCase" > 0)"},
        {"subset", R"({"columns": ["CamelCase", "Name, \"quoted\""]})", "",
         R"("CamelCase", "Name, ""quoted""")"},
    };
    std::vector<export_request> requests;
    for (const auto& c : cases)
        requests.push_back(make_request(c.request));
    const auto jobs = run_jobs(env.config(4, table, "Key"), requests);
    for (std::size_t i = 0; i < cases.size(); ++i)
        BOOST_TEST_CONTEXT("case " << cases[i].name) {
            check_export(env, jobs[i], select_for(cases[i], table, "\"Key\"", all));
        }
}

BOOST_AUTO_TEST_SUITE_END()
