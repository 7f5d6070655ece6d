// The export engine's filters and columns against a real PostgreSQL: each operator on text, numeric and
// timestamptz columns and on other column types, filters combined, column subsets, empty results, values
// that try SQL injection, a 100,000-value "in" list, requests refused with the right code and no job, and
// filtered chunks served by a (filter column, key) index. Every finished file must equal, byte for byte,
// what PostgreSQL's own COPY ... (FORMAT csv, HEADER true) writes for the same SELECT (CONTRACT.md, "The
// CSV file").
//
// Each test builds its own table in a scratch database, runs an export_engine on an io_context with a data
// directory of its own, and compares the files with scratch_database::copy_csv of the equivalent SQL
// (tests/support/engine_fixture.hpp).

#include "engine_fixture.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using namespace pgexport::engine;
using namespace pgexport::test;

namespace {

// `text` as an SQL literal by dollar quoting: independent of the engine's own quoting.
std::string dollar(const std::string& text) {
    return "$lit$" + text + "$lit$";
}

// Expects async_create to refuse the request with `code`.
struct rejected_case {
    std::string request;
    std::string code;
};

} // namespace

BOOST_AUTO_TEST_SUITE(export_filters)

// 1-2. No filter, and each operator on text, numeric and timestamptz columns (JSON numbers and strings).
BOOST_AUTO_TEST_CASE(filters_each_operator) {
    test_env env(standard_table + standard_rows(300));
    const std::vector<export_case> cases = {
        {"no filter", R"({})"},
        {"null filters", R"({"filters": null})"},
        {"empty filters", R"({"filters": {}})"},
        // text
        {"text scalar", R"({"filters": {"category": "books"}})", "category = 'books'"},
        {"text eq", R"({"filters": {"category": {"eq": "books"}}})", "category = 'books'"},
        {"text ne", R"({"filters": {"category": {"ne": "books"}}})", "category <> 'books'"},
        {"text gt", R"({"filters": {"category": {"gt": "food"}}})", "category > 'food'"},
        {"text gte", R"({"filters": {"category": {"gte": "food"}}})", "category >= 'food'"},
        {"text lt", R"({"filters": {"category": {"lt": "games"}}})", "category < 'games'"},
        {"text lte", R"({"filters": {"category": {"lte": "games"}}})", "category <= 'games'"},
        {"text array", R"({"filters": {"category": ["books", "music"]}})", "category IN ('books', 'music')"},
        {"text in", R"({"filters": {"category": {"in": ["food"]}}})", "category IN ('food')"},
        {"text eq null", R"({"filters": {"category": {"eq": null}}})", "category IS NULL"},
        {"text scalar null", R"({"filters": {"category": null}})", "category IS NULL"},
        {"text ne null", R"({"filters": {"category": {"ne": null}}})", "category IS NOT NULL"},
        {"text eq empty string", R"({"filters": {"description": ""}})", "description = ''"},
        {"text ne empty string", R"({"filters": {"description": {"ne": ""}}})", "description <> ''"},
        {"text with line break", R"({"filters": {"description": "multi\nline\r\n9"}})",
         "description = E'multi\\nline\\r\\n9'"},
        // numeric
        {"numeric eq number", R"({"filters": {"amount": {"eq": 79.19}}})", "amount = 79.19"},
        {"numeric eq string", R"({"filters": {"amount": "79.19"}})", "amount = 79.19"},
        {"numeric eq integer", R"({"filters": {"amount": {"eq": 64}}})", "amount = 64"},
        {"numeric ne", R"({"filters": {"amount": {"ne": 79.19}}})", "amount <> 79.19"},
        {"numeric gt", R"({"filters": {"amount": {"gt": 50}}})", "amount > 50"},
        {"numeric gte exponent", R"({"filters": {"amount": {"gte": 5e1}}})", "amount >= 50"},
        {"numeric lt string", R"({"filters": {"amount": {"lt": "25"}}})", "amount < 25"},
        {"numeric lte", R"({"filters": {"amount": {"lte": 25.25}}})", "amount <= 25.25"},
        {"numeric negative", R"({"filters": {"amount": {"gt": -1.5}}})", "amount > -1.5"},
        {"numeric in mixed", R"({"filters": {"amount": {"in": [79.19, "58.38", 0, 37.57]}}})",
         "amount IN (79.19, 58.38, 0, 37.57)"},
        {"numeric eq null", R"({"filters": {"amount": {"eq": null}}})", "amount IS NULL"},
        {"numeric ne null", R"({"filters": {"amount": {"ne": null}}})", "amount IS NOT NULL"},
        // timestamptz
        {"timestamp eq", R"({"filters": {"created_at": "2024-01-01T07:13:07.123456Z"}})",
         "created_at = '2024-01-01 07:13:07.123456+00'"},
        {"timestamp ne", R"({"filters": {"created_at": {"ne": "2024-01-01T07:13:07.123456Z"}}})",
         "created_at <> '2024-01-01 07:13:07.123456+00'"},
        {"timestamp gt offset", R"({"filters": {"created_at": {"gt": "2024-02-10T12:00:00+02:00"}}})",
         "created_at > '2024-02-10 10:00:00+00'"},
        {"timestamp gte lt",
         R"({"filters": {"created_at": {"gte": "2024-02-01T00:00:00Z", "lt": "2024-03-01T00:00:00Z"}}})",
         "created_at >= '2024-02-01 00:00:00+00' AND created_at < '2024-03-01 00:00:00+00'"},
        {"timestamp lte date only", R"({"filters": {"created_at": {"lte": "2024-01-15"}}})",
         "created_at <= '2024-01-15 00:00:00+00'"},
        {"timestamp lt now", R"({"filters": {"created_at": {"lt": "now"}}})", "created_at < now()"},
        {"timestamp in",
         R"({"filters": {"created_at": ["2024-01-01T07:13:07.123456Z", "2024-01-01 14:26:14.246912+00"]}})",
         "created_at IN ('2024-01-01 07:13:07.123456+00', '2024-01-01 14:26:14.246912+00')"},
        {"timestamp eq null", R"({"filters": {"created_at": {"eq": null}}})", "created_at IS NULL"},
        {"timestamp ne null", R"({"filters": {"created_at": {"ne": null}}})", "created_at IS NOT NULL"},
        // the key itself
        {"key range", R"({"filters": {"id": {"gt": 100, "lte": 150}}})", "id > 100 AND id <= 150"},
        {"key in", R"({"filters": {"id": [1, "5", 300, 9999]}})", "id IN (1, 5, 300, 9999)"},
    };
    auto config = env.config(13);
    config.max_concurrent = 4;
    check_cases(env, config, cases);
}

// 3-4. Filters ANDed, column subsets and orders, a single column.
BOOST_AUTO_TEST_CASE(combined_filters_and_columns) {
    test_env env(standard_table + standard_rows(400));
    auto config = env.config(7);
    config.max_concurrent = 3;
    const std::vector<export_case> cases = {
        {"several filters",
         R"({"filters": {"category": ["books", "games"], "status": {"ne": "pending"},
                         "amount": {"gt": 10, "lte": 80}, "created_at": {"gte": "2024-02-01T00:00:00Z"}}})",
         "category IN ('books', 'games') AND status <> 'pending' AND amount > 10 AND amount <= 80"
         " AND created_at >= '2024-02-01 00:00:00+00'"},
        {"null and range",
         R"({"filters": {"description": {"ne": null}, "amount": {"lt": 30}, "id": {"gte": 50}}})",
         "description IS NOT NULL AND amount < 30 AND id >= 50"},
        {"subset reordered, no id", R"({"columns": ["description", "amount", "category"]})", "",
         "description, amount, category"},
        {"subset with filters", R"({"columns": ["status", "created_at"], "filters": {"category": "music"}})",
         "category = 'music'", "status, created_at"},
        {"subset with id last", R"({"columns": ["amount", "id"], "filters": {"amount": {"gte": 90}}})",
         "amount >= 90", "amount, id"},
        {"single text column", R"({"columns": ["description"]})", "", "description"},
        {"single timestamp column", R"({"columns": ["created_at"]})", "", "created_at"},
        {"single key column", R"({"columns": ["id"], "filters": {"status": "paid"}})", "status = 'paid'",
         "id"},
        {"column twice", R"({"columns": ["category", "category"]})", "", "category, category"},
        {"all columns listed",
         R"({"columns": ["id", "category", "created_at", "amount", "status", "description"]})"},
        {"filter on a column not exported", R"({"columns": ["description"], "filters": {"status": "new"}})",
         "status = 'new'", "description"},
    };
    check_cases(env, config, cases);
}

// 5. No matching row (header only), and an empty table.
BOOST_AUTO_TEST_CASE(empty_results) {
    {
        test_env env(standard_table + standard_rows(50));
        const std::vector<export_case> cases = {
            {"nothing matches", R"({"filters": {"category": "nope"}})", "category = 'nope'"},
            {"nothing matches, subset",
             R"({"filters": {"amount": {"gt": 1e9}}, "columns": ["amount", "status"]})", "amount > 1e9",
             "amount, status"},
            {"contradiction", R"({"filters": {"id": {"gt": 10, "lt": 5}}})", "id > 10 AND id < 5"},
        };
        check_cases(env, env.config(7), cases);
    }
    {
        test_env env(standard_table);
        const std::vector<export_case> cases = {
            {"empty table", R"({})"},
            {"empty table, filters", R"({"filters": {"category": "books"}, "columns": ["category"]})",
             "category = 'books'", "category"},
        };
        check_cases(env, env.config(7), cases);
    }
    {
        // Rows that existed once: max(id) is NULL again, but the sequence has moved.
        test_env env(standard_table + standard_rows(20) + "DELETE FROM t;");
        check_cases(env, env.config(7), {{"all rows deleted", R"({})"}});
    }
}

// Filters on other column types. Known engine bugs make some of these fail:
// - the engine casts filter values to format_type(atttypid, NULL): for char(n) that is "character", i.e.
//   char(1), so "abc" became "a" (now mapped to bpchar in load_schema; kept as a regression test), and for
//   bit(n) it is "bit", i.e. bit(1): an explicit cast truncates "101" to "1", so the export silently
//   holds the wrong rows (none);
// - a filter on a type without an equality operator (json) makes async_create throw a pg_error (from the
//   EXPLAIN of the row estimate) instead of returning a problem.
BOOST_AUTO_TEST_CASE(other_column_types) {
    test_env env(R"SQL(
        CREATE TABLE t (id bigserial PRIMARY KEY, flag boolean, day date, n integer, f double precision,
                        u uuid, code char(5), tag varchar(3), doc jsonb, bits bit(3));
        INSERT INTO t (flag, day, n, f, u, code, tag, doc, bits)
            SELECT i % 2 = 0, date '2024-01-01' + i, i * 10, i / 3.0,
                   ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
                   (ARRAY['abc', 'a', 'abcde', 'ab'])[1 + i % 4], (ARRAY['x', 'yy', 'zzz'])[1 + i % 3],
                   jsonb_build_object('i', i % 3), (i % 8)::bit(3)
            FROM generate_series(1, 60) AS i;
    )SQL");
    const std::string all = "id, flag, day, n, f, u, code, tag, doc, bits";
    const std::vector<export_case> cases = {
        {"boolean true", R"({"filters": {"flag": true}})", "flag = true"},
        {"boolean string", R"({"filters": {"flag": {"ne": "false"}}})", "flag <> false"},
        {"date range", R"({"filters": {"day": {"gte": "2024-01-10", "lt": "2024-02-01"}}})",
         "day >= '2024-01-10' AND day < '2024-02-01'"},
        {"integer in", R"({"filters": {"n": [10, 20, "30"]}})", "n IN (10, 20, 30)"},
        {"double gt", R"({"filters": {"f": {"gt": 10.5}}})", "f > 10.5"},
        {"uuid eq", R"({"filters": {"u": "00000000-0000-0000-0000-000000000007"}})",
         "u = '00000000-0000-0000-0000-000000000007'"},
        {"varchar eq", R"({"filters": {"tag": "zzz"}})", "tag = 'zzz'"},
        {"jsonb eq", R"({"filters": {"doc": "{\"i\": 1}"}})", "doc = '{\"i\": 1}'"},
        {"char(5) eq", R"({"filters": {"code": "abc"}})", "code = 'abc'"},
        {"char(5) in", R"({"filters": {"code": ["abcde", "ab"]}})", "code IN ('abcde', 'ab')"},
        {"bit(3) eq", R"({"filters": {"bits": "101"}})", "bits = '101'"},
    };
    check_cases(env, env.config(7), cases, all);

    // json has no equality operator: the contract wants such a filter refused at once ("a 400 at once,
    // not a failed job later"), or else exported; a job that fails later is wrong.
    test_env env2(
        "CREATE TABLE t (id bigserial PRIMARY KEY, j json); INSERT INTO t (j) VALUES ('{\"a\": 1}');");
    asio::io_context io;
    export_engine engine(io.get_executor(), env2.config(7));
    std::optional<problem> refused;
    std::optional<job_info> job;
    std::optional<std::string> thrown;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        std::optional<std::string> id;
        try {
            auto created = co_await engine.async_create(make_request(R"({"filters": {"j": "{\"a\": 1}"}})"));
            if (created)
                id = *created;
            else
                refused = created.error();
        } catch (const std::exception& e) {
            thrown = e.what();
        }
        if (id)
            job = co_await wait_until_done(engine, *id);
        co_await engine.async_shutdown();
    });
    BOOST_TEST(!thrown.has_value(),
               "async_create threw instead of returning a problem for a filter on a json column: "
                   << thrown.value_or(""));
    BOOST_TEST((job.has_value() != refused.has_value()), "neither accepted nor refused, or both");
    if (job)
        BOOST_TEST(
            to_string(job->status) == "completed",
            "a filter on a json column was accepted, then the job ended " << to_string(job->status) << ": "
                                                                           << job->error.value_or(""));
    if (refused)
        BOOST_TEST(to_string(refused->code) != "unavailable");
}

// 7. Filter values that try SQL injection: they are values, nothing more.
BOOST_AUTO_TEST_CASE(sql_injection_attempts) {
    const std::vector<std::string> hostile = {
        "x'); DROP TABLE t; --",
        "x\\'); DROP TABLE t; --",
        "\\",
        "\\\\",
        "'",
        "''",
        "\\'",
        "\"",
        "$$; DROP TABLE t; $$",
        "a' OR '1'='1",
        "a\\' OR 1=1 --",
        "E'\\x27",
        "1; SELECT pg_sleep(10)",
        "\\'; DROP TABLE export_jobs; --",
        "%",
        "_",
    };
    std::string setup = standard_table + standard_rows(40);
    for (const auto& h : hostile)
        setup += "INSERT INTO t (category, status, description) VALUES (" + dollar(h) + ", 'hostile', " +
                 dollar(h) + ");";
    test_env env(setup);
    const std::int64_t rows_before = env.count("SELECT * FROM t");

    std::vector<export_case> cases;
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        const std::string value = json::serialize(json::value(hostile[i]));
        cases.push_back({"eq hostile " + std::to_string(i), R"({"filters": {"category": )" + value + "}}",
                         "category = " + dollar(hostile[i])});
        cases.push_back({"ne hostile " + std::to_string(i),
                         R"({"filters": {"description": {"ne": )" + value + R"(}, "status": "hostile"}})",
                         "description <> " + dollar(hostile[i]) + " AND status = 'hostile'"});
        cases.push_back(
            {"no match " + std::to_string(i),
             R"({"filters": {"category": )" + json::serialize(json::value("zz" + hostile[i])) + "}}",
             "category = " + dollar("zz" + hostile[i])});
    }
    json::array all;
    std::string in_sql;
    for (const auto& h : hostile) {
        all.emplace_back(h);
        in_sql += (in_sql.empty() ? "" : ", ") + dollar(h);
    }
    cases.push_back({"in all hostile", R"({"filters": {"category": )" + json::serialize(all) + "}}",
                     "category IN (" + in_sql + ")"});
    auto config = env.config(20);
    config.max_concurrent = 4;
    check_cases(env, config, cases);

    // The table and the job table are still there, untouched.
    BOOST_TEST(env.count("SELECT * FROM t") == rows_before);
    BOOST_TEST(env.count("SELECT * FROM export_jobs WHERE status = 'completed'") ==
               static_cast<std::int64_t>(cases.size()));
}

// 9. Requests async_create must refuse, with the right code, creating no job.
BOOST_AUTO_TEST_CASE(bad_requests_rejected) {
    test_env env(standard_table + standard_rows(10));
    const std::vector<rejected_case> cases = {
        {R"({"columns": ["nope"]})", "unknown_column"},
        {R"({"columns": ["id", "ID"]})", "unknown_column"},
        {R"({"columns": ["id\"; DROP TABLE t; --"]})", "unknown_column"},
        {R"({"columns": ["t.id"]})", "unknown_column"},
        {R"({"filters": {"nope": 1}})", "unknown_column"},
        {R"({"filters": {"category\" = category OR \"id": 1}})", "unknown_column"},
        {R"({"filters": {"amount": "abc"}})", "invalid_value"},
        {R"({"filters": {"amount": {"gt": "abc"}}})", "invalid_value"},
        {R"({"filters": {"amount": {"in": [1, "abc"]}}})", "invalid_value"},
        {R"({"filters": {"amount": true}})", "invalid_value"},
        {R"({"filters": {"amount": "1 OR 1=1"}})", "invalid_value"},
        {R"({"filters": {"amount": "1); DROP TABLE t; --"}})", "invalid_value"},
        {R"({"filters": {"created_at": "not a date"}})", "invalid_value"},
        {R"({"filters": {"created_at": {"gte": "2024-13-45"}}})", "invalid_value"},
        {R"({"filters": {"created_at": {"lt": "2024-01-01'); DROP TABLE t; --"}}})", "invalid_value"},
        {R"({"filters": {"id": "1.5"}})", "invalid_value"},
        {R"({"filters": {"id": 1.5}})", "invalid_value"},
        {R"({"filters": {"id": "99999999999999999999"}})", "invalid_value"},
        {R"({"filters": {"id": 18446744073709551615}})", "invalid_value"},
        {R"({"filters": {"category": "ok", "amount": "abc"}})", "invalid_value"},
    };
    asio::io_context io;
    export_engine engine(io.get_executor(), env.config(7));
    std::vector<std::optional<std::string>> codes;
    std::size_t jobs_after = 0;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        for (const auto& c : cases) {
            auto id = co_await engine.async_create(make_request(c.request));
            codes.push_back(id ? std::nullopt : std::optional<std::string>(to_string(id.error().code)));
        }
        auto jobs = (co_await engine.async_list()).value();
        jobs_after = jobs->size();
        co_await engine.async_shutdown();
    });
    for (std::size_t i = 0; i < cases.size(); ++i)
        BOOST_TEST_CONTEXT("request " << cases[i].request) {
            BOOST_TEST(codes[i].value_or("<accepted>") == cases[i].code);
        }
    BOOST_TEST(jobs_after == 0u);
    BOOST_TEST(env.count("SELECT * FROM t") == 10);

    // Shape errors come from parse_export_request, before the engine.
    const std::vector<rejected_case> shapes = {
        {R"({"filters": {"amount": {"like": 1}}})", "unknown_operator"},
        {R"({"filters": {"amount": {"gt": null}}})", "invalid_request"},
        {R"({"filters": {"amount": {"in": []}}})", "invalid_request"},
        {R"({"filters": {"amount": {"in": [null]}}})", "invalid_request"},
        {R"({"filters": {"amount": {}}})", "invalid_request"},
        {R"({"filters": {"amount": [[1]]}})", "invalid_request"},
        {R"({"columns": []})", "invalid_request"},
        {R"({"columns": "id"})", "invalid_request"},
        {R"({"bogus": 1})", "invalid_request"},
        {R"([])", "invalid_request"},
    };
    for (const auto& c : shapes)
        BOOST_TEST_CONTEXT("request " << c.request) {
            auto r = parse_export_request(json::parse(c.request));
            BOOST_TEST((r ? std::string("<accepted>") : std::string(to_string(r.error().code))) == c.code);
        }
}

// A 100,000-value "in" list: every value checked and fixed by PostgreSQL (in one statement, not one a
// value), the export equal to COPY's; one bad value among them is refused naming it and its filter.
BOOST_AUTO_TEST_CASE(large_in_list) {
    test_env env(standard_table + standard_rows(3000));
    // Every third key up to 300,000 (most of them beyond the table), in the forms PostgreSQL reads as
    // bigint: numbers, strings, leading zeros, spaces.
    auto body_with = [](const std::string& odd_one) {
        std::string values;
        for (int i = 0; i < 100'000; ++i) {
            const std::string n = std::to_string(3 * i);
            values += i ? "," : "";
            if (i == 50'000 && !odd_one.empty())
                values += "\"" + odd_one + "\"";
            else if (i % 4 == 1)
                values += "\"00" + n + "\"";
            else if (i % 4 == 2)
                values += "\" " + n + " \"";
            else
                values += n;
        }
        return R"({"filters": {"id": {"in": [)" + values + R"(]}}, "columns": ["id", "category"]})";
    };
    asio::io_context io;
    export_engine engine(io.get_executor(), env.config(500));
    std::optional<job_info> done;
    std::optional<problem> refused;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        auto id = co_await engine.async_create(make_request(body_with("")));
        if (!id)
            throw std::runtime_error("refused: " + id.error().message);
        done = co_await wait_until_done(engine, *id);
        auto bad = co_await engine.async_create(make_request(body_with("x150000")));
        if (!bad)
            refused = bad.error();
        co_await engine.async_shutdown();
    });
    BOOST_TEST_REQUIRE(done.has_value());
    check_export(env, *done, "SELECT id, category FROM t WHERE id % 3 = 0 ORDER BY id");
    // The values are kept as PostgreSQL printed them, in the order given.
    BOOST_TEST_REQUIRE(done->request.filters.size() == 1u);
    const auto& values = done->request.filters[0].values;
    BOOST_TEST_REQUIRE(values.size() == 100'000u);
    for (std::size_t i : {0u, 1u, 2u, 3u, 50'001u, 99'999u})
        BOOST_TEST(values[i].value_or("<null>") == std::to_string(3 * i));
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(to_string(refused->code) == "invalid_value");
    BOOST_TEST(refused->message.find("filter \"id\"") != std::string::npos, refused->message);
    BOOST_TEST(refused->message.find("x150000") != std::string::npos, refused->message);
    BOOST_TEST(env.count("SELECT FROM export_jobs") == 1);
}

// 20. A filtered export is served by a (filter column, key) index: the chunks ask for `key > last ORDER
// BY key LIMIT n` under the filter, which such an index answers without reading the rows the filter
// drops. PostgreSQL's default random_page_cost (4) prefers the key's own index there (it judges the
// composite index by its first column's correlation); the export lowers it for its sessions.
BOOST_AUTO_TEST_CASE(filtered_chunks_use_the_filter_and_key_index) {
    test_env env("CREATE TABLE t (id bigint PRIMARY KEY, category text NOT NULL, payload text);"
                 "INSERT INTO t SELECT i, (ARRAY['books','games','music','food','toys','tools','garden','art'])"
                 "[1 + i % 8], repeat('x', 40) FROM generate_series(1, 200000) AS i;"
                 "CREATE INDEX t_category_id ON t (category, id); ANALYZE t;");
    auto index_scans = [&](const std::string& index) {
        return std::stoll(
            env.db.query("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = '" + index + "'").at(0));
    };
    const std::string select = "SELECT id, category, payload FROM t WHERE category = 'books' ORDER BY id";
    std::int64_t used_by_server_setting = 0;
    for (bool lowered : {false, true}) {
        auto config = env.config(2000);
        if (!lowered)
            config.random_page_cost.reset();
        const auto before = index_scans("t_category_id");
        auto jobs = run_jobs(config, {make_request(R"({"filters": {"category": "books"}})")});
        check_export(env, jobs.at(0), select);
        // Statistics reach the shared counters when a backend flushes them, at the latest as it exits, before
        // it leaves pg_stat_activity: once the engine's sessions are gone, every scan of theirs is counted.
        const auto gone_by = clock_type::now() + job_timeout;
        while (env.db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgexport'"
                            " AND datname = current_database() AND pid <> pg_backend_pid()")
                   .at(0) != "0") {
            if (clock_type::now() > gone_by)
                BOOST_FAIL("the engine's sessions did not end within the job timeout");
            std::this_thread::sleep_for(20ms);
        }
        const std::int64_t used = index_scans("t_category_id") - before;
        BOOST_TEST_MESSAGE("random_page_cost " << (lowered ? "lowered" : "as the server has it") << ": "
                                               << used << " scans of t_category_id");
        // 25,000 rows in chunks of 2,000: 13 chunks. Creating the job (its estimate) may use the index
        // either way; most chunks must, once lowered (near the end the key's index can be as cheap).
        if (lowered)
            BOOST_TEST(used >= used_by_server_setting + 8);
        else
            used_by_server_setting = used;
    }
}

BOOST_AUTO_TEST_SUITE_END()
