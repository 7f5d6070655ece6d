// End-to-end tests of the export engine against a real PostgreSQL: every finished file must equal, byte
// for byte, what PostgreSQL's own COPY ... (FORMAT csv, HEADER true) writes for the same SELECT (CONTRACT.md,
// "The CSV file"), whatever the filters, columns, data, chunk size, crashes, retries and cancellations.
//
// Each test builds its own table in a scratch database, runs an export_engine on an io_context with a data
// directory of its own, and compares the files with scratch_database::copy_csv of the equivalent SQL.

#include "test_support.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/migrations.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace pgexport::engine;
using pgexport::test::read_file;
using pgexport::test::scratch_database;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr auto job_timeout = 60s;

// The table of most tests: every column nullable so that NULL filters have something to find.
const std::string standard_table =
    "CREATE TABLE t (id bigserial PRIMARY KEY, category text, created_at timestamptz, amount numeric(12,2),"
    " status text, description text);";

// `n` deterministic rows with NULLs, empty strings, commas, quotes and line breaks sprinkled in.
std::string standard_rows(int n) {
    return "INSERT INTO t (category, created_at, amount, status, description)"
           " SELECT CASE WHEN i % 17 = 0 THEN NULL ELSE (ARRAY['books','games','music','food'])[1 + i % 4] "
           "END,"
           "        CASE WHEN i % 19 = 0 THEN NULL"
           "             ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '7 hours 13 minutes "
           "7.123456 seconds' END,"
           "        CASE WHEN i % 13 = 0 THEN NULL ELSE round(((i * 7919) % 10000) / 100.0, 2) END,"
           "        (ARRAY['paid','shipped','pending','refunded','new'])[1 + i % 5],"
           "        CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN ''"
           "             WHEN i % 5 = 0 THEN 'note, with \"quotes\" ' || i"
           "             WHEN i % 9 = 0 THEN E'multi\\nline\\r\\n' || i ELSE 'row ' || i END"
           " FROM generate_series(1, " +
           std::to_string(n) + ") AS i;";
}

const std::string all_columns = "id, category, created_at, amount, status, description";

// A scratch database with a table, the job tables, and an empty data directory of its own.
struct test_env {
    scratch_database db;
    fs::path dir;

    explicit test_env(const std::string& setup_sql) {
        if (!setup_sql.empty())
            db.query(setup_sql);
        apply_migrations(db.url());
        dir = fs::temp_directory_path() / ("pgexport-test-" + db.name());
        fs::remove_all(dir);
    }
    ~test_env() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    test_env(const test_env&) = delete;
    test_env& operator=(const test_env&) = delete;

    engine_config config(int chunk_rows, std::string table = "t", std::string key = "id") const {
        engine_config c;
        c.database_url = db.url();
        c.data_dir = dir;
        c.table = std::move(table);
        c.key = std::move(key);
        c.chunk_rows = chunk_rows;
        c.max_concurrent = 2;
        c.retry_base_delay = 50ms;
        c.retry_max_delay = 400ms;
        return c;
    }

    fs::path final_file(const std::string& id) const { return dir / (id + ".csv"); }
    // The partial file that holds the job's checkpoint: the one of the lease that wrote it.
    fs::path part_file(const std::string& id) const {
        const std::string token = db.query("SELECT part_token FROM export_jobs WHERE id = '" + id + "'").at(0);
        return dir / (id + (token.empty() ? "" : "." + token) + ".csv.part");
    }
    // Every partial file of the job, whichever lease wrote it.
    std::vector<fs::path> part_files(const std::string& id) const {
        std::vector<fs::path> found;
        if (fs::exists(dir))
            for (const auto& entry : fs::directory_iterator(dir)) {
                const std::string name = entry.path().filename().string();
                if (name.starts_with(id + ".") && name.ends_with(".csv.part"))
                    found.push_back(entry.path());
            }
        return found;
    }

    std::int64_t count(const std::string& select) const {
        return std::stoll(db.query("SELECT count(*) FROM (" + select + ") AS s").at(0));
    }
};

export_request make_request(const std::string& body) {
    auto r = parse_export_request(json::parse(body));
    if (!r)
        throw std::runtime_error("the test's request does not parse: " + body + ": " + r.error().message);
    return *r;
}

// `text` as an SQL literal by dollar quoting: independent of the engine's own quoting.
std::string dollar(const std::string& text) {
    return "$lit$" + text + "$lit$";
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

bool is_final(job_status s) {
    return s == job_status::completed || s == job_status::failed || s == job_status::cancelled;
}

job_info must(result<job_info> r, const char* what) {
    if (!r)
        throw std::runtime_error(std::string(what) + ": " + r.error().message);
    return std::move(*r);
}

// Polls until the job has ended and returns its last status; throws when it has not ended by `timeout`.
asio::awaitable<job_info> wait_until_done(export_engine& engine, std::string id,
                                          std::chrono::milliseconds timeout = job_timeout) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
        auto status = co_await engine.async_status(id);
        job_info info = must(std::move(status), "async_status");
        if (is_final(info.status))
            co_return info;
        if (clock_type::now() > deadline)
            throw std::runtime_error("job " + id + " has not ended within " + std::to_string(timeout.count()) +
                                     " ms: still " + std::string(to_string(info.status)) + " after " +
                                     std::to_string(info.rows_exported) + " rows");
        co_await sleep_for(20ms);
    }
}

// Polls until the job has exported at least `rows` rows or ended; throws when neither came within the
// job timeout.
asio::awaitable<job_info> wait_for_progress(export_engine& engine, std::string id, std::int64_t rows) {
    const auto deadline = clock_type::now() + job_timeout;
    for (;;) {
        auto status = co_await engine.async_status(id);
        job_info info = must(std::move(status), "async_status");
        if (info.rows_exported >= rows || is_final(info.status))
            co_return info;
        if (clock_type::now() > deadline)
            throw std::runtime_error("job " + id + " neither reached " + std::to_string(rows) +
                                     " rows nor ended in time: " + std::string(to_string(info.status)) + " after " +
                                     std::to_string(info.rows_exported) + " rows");
        co_await sleep_for(5ms);
    }
}

// Polls `done()` every 10 ms until it holds; throws naming `what` when it does not within the job timeout.
template <typename Predicate>
asio::awaitable<void> wait_for(const std::string& what, Predicate done) {
    const auto deadline = clock_type::now() + job_timeout;
    while (!done()) {
        if (clock_type::now() > deadline)
            throw std::runtime_error(what + ": not within the job timeout");
        co_await sleep_for(10ms);
    }
}

std::string printable(const std::string& s, std::size_t from, std::size_t n) {
    std::ostringstream out;
    out << '"';
    for (std::size_t i = from; i < s.size() && i < from + n; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n')
            out << "\\n";
        else if (c == '\r')
            out << "\\r";
        else if (c == '"' || c == '\\')
            out << '\\' << c;
        else if (c < 0x20)
            out << "\\x" << std::hex << int(c) << std::dec;
        else
            out << c;
    }
    out << '"';
    return out.str();
}

void check_same(const std::string& actual, const std::string& expected) {
    if (actual == expected) {
        BOOST_TEST(true);
        return;
    }
    const auto diff = std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
    const std::size_t at = static_cast<std::size_t>(diff.first - actual.begin());
    const std::size_t from = at < 40 ? 0 : at - 40;
    BOOST_ERROR("the export differs from PostgreSQL's COPY: "
                << actual.size() << " bytes, expected " << expected.size() << "; first difference at byte "
                << at << ": got " << printable(actual, from, 100) << ", expected "
                << printable(expected, from, 100));
}

// Checks a finished job against COPY (<select>): status, file content, no leftover .part, counters.
void check_export(const test_env& env, const job_info& job, const std::string& select) {
    BOOST_TEST(to_string(job.status) == "completed");
    if (job.error)
        BOOST_ERROR("job error: " << *job.error);
    if (job.status != job_status::completed)
        return;
    const std::string expected = env.db.copy_csv(select);
    const fs::path file = env.final_file(job.id);
    BOOST_TEST_REQUIRE(fs::exists(file));
    const std::string actual = read_file(file.string());
    check_same(actual, expected);
    BOOST_TEST(env.part_files(job.id).empty());
    BOOST_TEST(job.bytes_written == static_cast<std::int64_t>(actual.size()));
    BOOST_TEST(job.rows_exported == env.count(select));
    BOOST_TEST((job.file_path && *job.file_path == file.string()));
}

// What async_start throws for `config` ("" when the engine starts); the engine is shut down again.
std::string start_error(const engine_config& config) {
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::string error;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        try {
            co_await engine.async_start();
        } catch (const std::exception& e) {
            error = e.what();
        }
        co_await engine.async_shutdown();
    });
    return error;
}

// Starts an engine, creates one job per request, waits for all of them and shuts the engine down.
std::vector<job_info> run_jobs(const engine_config& config, const std::vector<export_request>& requests) {
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::vector<job_info> jobs;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        std::vector<std::optional<std::string>> ids;
        std::vector<std::string> refusals;
        for (const export_request& request : requests) {
            auto id = co_await engine.async_create(request);
            ids.push_back(id ? std::optional<std::string>(*id) : std::nullopt);
            refusals.push_back(id ? "" : std::string(to_string(id.error().code)) + ": " + id.error().message);
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (ids[i]) {
                jobs.push_back(co_await wait_until_done(engine, *ids[i]));
            } else {
                // Reported by check_export as a job that did not complete.
                job_info refused;
                refused.status = job_status::failed;
                refused.error = "async_create refused the request: " + refusals[i];
                jobs.push_back(std::move(refused));
            }
        }
        co_await engine.async_shutdown();
    });
    return jobs;
}

struct export_case {
    std::string name;
    std::string request;      // POST /api/export body
    std::string where = "";   // the same filters in SQL ("" for none)
    std::string columns = ""; // the same columns in SQL ("" for all)
};

std::string select_for(const export_case& c, const std::string& table = "t", const std::string& key = "id",
                       const std::string& default_columns = all_columns) {
    return "SELECT " + (c.columns.empty() ? default_columns : c.columns) + " FROM " + table +
           (c.where.empty() ? "" : " WHERE " + c.where) + " ORDER BY " + key;
}

// Runs every case as a job of one engine and checks each file.
void check_cases(const test_env& env, const engine_config& config, const std::vector<export_case>& cases,
                 const std::string& default_columns = all_columns) {
    std::vector<export_request> requests;
    for (const auto& c : cases)
        requests.push_back(make_request(c.request));
    const std::vector<job_info> jobs = run_jobs(config, requests);
    BOOST_TEST_REQUIRE(jobs.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        BOOST_TEST_CONTEXT("case " << cases[i].name << ": " << cases[i].request << " (chunk_rows "
                                   << config.chunk_rows << ")") {
            check_export(env, jobs[i], select_for(cases[i], config.table, config.key, default_columns));
        }
    }
}

// Expects async_create to refuse the request with `code`.
struct rejected_case {
    std::string request;
    std::string code;
};

} // namespace

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

// 10. Resume after a crash: the file of an interrupted job, finished by another engine, equals the file of
// an uninterrupted one and PostgreSQL's COPY.
BOOST_AUTO_TEST_CASE(resume_after_crash) {
    test_env env(
        standard_table + standard_rows(300) +
        "INSERT INTO t (category, description) VALUES ('books', E'\\\\.'), ('books', repeat('z', 300000)),"
        " ('games', E'a\\r\\nb,\"c\"');" +
        "INSERT INTO t (category, description) SELECT 'books', 'tail ' || i FROM generate_series(1, 100) i;");
    const std::string body =
        R"({"filters": {"category": {"ne": "food"}}, "columns": ["description", "id", "amount", "created_at"]})";
    const std::string select =
        "SELECT description, id, amount, created_at FROM t WHERE category <> 'food' ORDER BY id";
    const std::string expected = env.db.copy_csv(select);

    // The reference: the same job, uninterrupted.
    const auto reference = run_jobs(env.config(100), {make_request(body)});
    BOOST_TEST_REQUIRE(reference.size() == 1u);
    check_export(env, reference[0], select);
    const std::string reference_file = read_file(env.final_file(reference[0].id).string());

    enum class damage { garbage, boundary, shorter, missing_part, none, after_rename };
    const std::vector<std::pair<damage, const char*>> damages = {
        {damage::garbage, "garbage past the checkpoint"},
        {damage::boundary, "crash exactly at a chunk boundary"},
        {damage::shorter, "partial file shorter than its checkpoint"},
        {damage::missing_part, "partial file gone"},
        {damage::none, "plain shutdown"},
        {damage::after_rename, "crash between the rename and the database update"},
    };
    for (const auto& [kind, name] : damages) {
        BOOST_TEST_CONTEXT(name) {
            auto config = env.config(2);
            std::string id;
            // Engine A: runs the job part way (or, for after_rename, to the end) and stops.
            {
                asio::io_context io;
                export_engine a(io.get_executor(), config);
                std::optional<job_info> at_stop;
                pgexport::test::run(io, [&]() -> asio::awaitable<void> {
                    co_await a.async_start();
                    auto created = co_await a.async_create(make_request(body));
                    if (!created)
                        throw std::runtime_error(created.error().message);
                    id = *created;
                    if (kind == damage::after_rename)
                        at_stop = co_await wait_until_done(a, id);
                    else
                        at_stop = co_await wait_for_progress(a, id, 60);
                    co_await a.async_shutdown();
                });
                BOOST_TEST_REQUIRE(at_stop.has_value());
                if (kind == damage::after_rename) {
                    BOOST_TEST_REQUIRE(to_string(at_stop->status) == "completed");
                    env.db.query(
                        "UPDATE export_jobs SET status = 'running', file_path = NULL, finished_at = NULL,"
                        " lease_expires_at = NULL WHERE id = '" +
                        id + "'");
                } else {
                    BOOST_TEST_REQUIRE(to_string(at_stop->status) == "running",
                                       "the job ended before it could be interrupted; slow it down");
                }
            }
            BOOST_TEST_REQUIRE(env.db.query("SELECT status FROM export_jobs WHERE id = '" + id + "'").at(0) ==
                               "running");
            const std::int64_t checkpoint = std::stoll(
                env.db.query("SELECT bytes_written FROM export_jobs WHERE id = '" + id + "'").at(0));
            const fs::path part = env.part_file(id);
            if (kind != damage::after_rename) {
                BOOST_TEST_REQUIRE(fs::exists(part));
                BOOST_TEST_REQUIRE(checkpoint > 0);
                BOOST_TEST_REQUIRE(static_cast<std::int64_t>(fs::file_size(part)) >= checkpoint);
                BOOST_TEST(!fs::exists(env.final_file(id)));
            }
            switch (kind) {
            case damage::garbage: {
                fs::resize_file(part, static_cast<std::uintmax_t>(checkpoint));
                std::ofstream out(part, std::ios::binary | std::ios::app);
                out << "GARBAGE,\"unterminated\r\n" << std::string(5000, '#') << "\n12345,torn row";
                break;
            }
            case damage::boundary:
                fs::resize_file(part, static_cast<std::uintmax_t>(checkpoint));
                break;
            case damage::shorter:
                fs::resize_file(part, static_cast<std::uintmax_t>(checkpoint / 2));
                break;
            case damage::missing_part:
                fs::remove(part);
                break;
            case damage::none:
                break;
            case damage::after_rename:
                BOOST_TEST_REQUIRE(fs::exists(env.final_file(id)));
                break;
            }
            // Engine B: takes the job up at start and finishes it.
            std::optional<job_info> done;
            {
                asio::io_context io;
                export_engine b(io.get_executor(), config);
                pgexport::test::run(io, [&]() -> asio::awaitable<void> {
                    co_await b.async_start();
                    done = co_await wait_until_done(b, id);
                    co_await b.async_shutdown();
                });
            }
            BOOST_TEST_REQUIRE(done.has_value());
            check_export(env, *done, select);
            if (done->status == job_status::completed) {
                const std::string file = read_file(env.final_file(id).string());
                BOOST_TEST((file == reference_file), "resumed file differs from the uninterrupted one");
                BOOST_TEST(done->rows_exported == reference[0].rows_exported);
                BOOST_TEST(done->last_processed_id.value_or(-1) ==
                           reference[0].last_processed_id.value_or(-2));
            }
        }
    }
}

// 11. The export connection is killed while a job runs: the job retries and its file is still exact.
BOOST_AUTO_TEST_CASE(retry_after_connection_killed) {
    test_env env(standard_table + standard_rows(1000));
    auto config = env.config(1);
    const std::string select = "SELECT " + all_columns + " FROM t ORDER BY id";
    const std::string kill =
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgexport'"
        " AND datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'COPY%'";
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    int kills = 0;
    bool monotonic = true;
    std::optional<job_info> done;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        auto id = co_await engine.async_create(make_request("{}"));
        if (!id)
            throw std::runtime_error(id.error().message);
        std::int64_t last_rows = 0;
        std::int64_t last_bytes = 0;
        const auto deadline = clock_type::now() + job_timeout;
        for (;;) {
            auto status = co_await engine.async_status(*id);
            job_info info = must(std::move(status), "async_status");
            if (info.rows_exported < last_rows || info.bytes_written < last_bytes)
                monotonic = false;
            last_rows = info.rows_exported;
            last_bytes = info.bytes_written;
            if (is_final(info.status) || clock_type::now() > deadline) {
                done = info;
                break;
            }
            // Kill the export's connection three times, at different points of the export.
            if (info.status == job_status::running && kills < 3 && info.rows_exported >= 100 + 250 * kills) {
                for (const auto& r : env.db.query(kill))
                    if (r == "t")
                        ++kills;
            }
            co_await sleep_for(10ms);
        }
        co_await engine.async_shutdown();
    });
    BOOST_TEST_REQUIRE(done.has_value());
    BOOST_TEST(kills >= 1, "no export connection was killed: the job ended too soon");
    BOOST_TEST_MESSAGE("killed the export connection " << kills << " times");
    BOOST_TEST(monotonic, "rowsExported or bytesWritten went backwards during retries");
    check_export(env, *done, select);
    // Each kill failed an attempt, and the record keeps the count.
    BOOST_TEST(done->attempts >= kills);
    BOOST_TEST(env.db.query("SELECT attempts FROM export_jobs").at(0) == std::to_string(done->attempts));
    // The metrics count rows once, however often a chunk was exported again after a failed attempt.
    BOOST_TEST(engine.stats().rows_exported == 1000);
}

// Two engines (two instances) on one database and one data directory share the queue: every job is
// claimed once, by one of them, and completes byte-identical; both take part.
BOOST_AUTO_TEST_CASE(two_instances_share_the_queue) {
    test_env env(standard_table + standard_rows(600));
    auto config_a = env.config(50);
    config_a.instance_id = "instance-a";
    auto config_b = config_a;
    config_b.instance_id = "instance-b";
    asio::io_context io;
    export_engine a(io.get_executor(), config_a);
    export_engine b(io.get_executor(), config_b);
    std::vector<std::pair<std::string, int>> jobs; // id, its filter's bound
    std::vector<job_info> done;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await a.async_start();
        co_await b.async_start();
        for (int i = 0; i < 50; ++i) {
            const int bound = 100 + 10 * i;
            export_engine& via = i % 2 ? b : a;
            auto id = co_await via.async_create(
                make_request(R"({"filters": {"id": {"lte": )" + std::to_string(bound) + "}}}"));
            if (!id)
                throw std::runtime_error(id.error().message);
            jobs.emplace_back(*id, bound);
        }
        for (const auto& [id, bound] : jobs)
            done.push_back(co_await wait_until_done(a, id));
        co_await a.async_shutdown();
        co_await b.async_shutdown();
    });
    BOOST_TEST_REQUIRE(done.size() == jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i)
        BOOST_TEST_CONTEXT("job " << i) {
            check_export(env, done[i],
                         "SELECT " + all_columns + " FROM t WHERE id <= " + std::to_string(jobs[i].second) +
                             " ORDER BY id");
        }
    // Claimed once each: a second claim would have bumped the token.
    BOOST_TEST(env.db.query("SELECT count(*) FROM export_jobs WHERE lease_token <> 1").at(0) == "0");
    const auto by_a = env.db.query("SELECT count(*) FROM export_jobs WHERE lease_owner = 'instance-a'").at(0);
    const auto by_b = env.db.query("SELECT count(*) FROM export_jobs WHERE lease_owner = 'instance-b'").at(0);
    BOOST_TEST_MESSAGE("instance a ran " << by_a << " jobs, instance b " << by_b);
    BOOST_TEST(std::stoi(by_a) + std::stoi(by_b) == 50);
    BOOST_TEST(std::stoi(by_a) > 0);
    BOOST_TEST(std::stoi(by_b) > 0);
}

// Jobs belong to their table: an instance serving other tables never claims them (it once resumed a
// records job against orders); an instance may serve several tables, a request naming one.
BOOST_AUTO_TEST_CASE(jobs_belong_to_their_table) {
    test_env env(standard_table + standard_rows(300) +
                 "CREATE TABLE u (id bigserial PRIMARY KEY, label text);"
                 " INSERT INTO u (label) SELECT 'label ' || i FROM generate_series(1, 300) i;");
    auto only_u = env.config(1, "u");
    only_u.instance_id = "serves-u";
    auto only_t = env.config(50, "t");
    only_t.instance_id = "serves-t";
    auto both = env.config(50, "t");
    both.more_tables = {{"u", "id"}};
    both.instance_id = "serves-both";
    std::string u_job, t_job, named_u_job;
    std::optional<job_info> u_done, t_done, named_u_done;
    std::string unknown_table;
    {
        asio::io_context io;
        export_engine y(io.get_executor(), only_u);
        pgexport::test::run(io, [&]() -> asio::awaitable<void> {
            co_await y.async_start();
            u_job = (co_await y.async_create(make_request("{}"))).value();
            co_await y.async_shutdown(); // at once: the job is left unfinished
        });
    }
    BOOST_TEST_REQUIRE(env.db.query("SELECT status FROM export_jobs WHERE id = '" + u_job + "'").at(0) != "completed",
                       "the u job completed before its instance stopped: make it longer");
    {
        asio::io_context io;
        export_engine x(io.get_executor(), only_t);
        pgexport::test::run(io, [&]() -> asio::awaitable<void> {
            co_await x.async_start();
            t_job = (co_await x.async_create(make_request("{}"))).value();
            t_done = co_await wait_until_done(x, t_job);
            // The u job is not this instance's: it cannot see it, let alone run it.
            auto status = co_await x.async_status(u_job);
            BOOST_TEST((!status && status.error().code == errc::not_found));
            co_await x.async_shutdown();
        });
    }
    check_export(env, *t_done, "SELECT " + all_columns + " FROM t ORDER BY id");
    BOOST_TEST(env.db.query("SELECT coalesce(lease_owner, '') FROM export_jobs WHERE id = '" + u_job + "'").at(0) !=
               "serves-t");
    BOOST_TEST(env.db.query("SELECT status FROM export_jobs WHERE id = '" + u_job + "'").at(0) != "completed");
    {
        asio::io_context io;
        export_engine z(io.get_executor(), both);
        pgexport::test::run(io, [&]() -> asio::awaitable<void> {
            co_await z.async_start();
            u_done = co_await wait_until_done(z, u_job);
            named_u_job = (co_await z.async_create(make_request(R"({"table": "u", "columns": ["label"]})"))).value();
            named_u_done = co_await wait_until_done(z, named_u_job);
            auto refused = co_await z.async_create(make_request(R"({"table": "nope"})"));
            if (!refused)
                unknown_table = refused.error().message;
            co_await z.async_shutdown();
        });
    }
    check_export(env, *u_done, "SELECT id, label FROM u ORDER BY id");
    check_export(env, *named_u_done, "SELECT label FROM u ORDER BY id");
    BOOST_TEST(unknown_table.find("no table \"nope\"") != std::string::npos, "refusal: " << unknown_table);
    BOOST_TEST(env.db.query("SELECT table_name FROM export_jobs WHERE id = '" + named_u_job + "'").at(0) == "u");
}

// An owner name scheme that changed (API keys' owners became HMACs): the start-up rename gives a key its
// earlier jobs back, and touches no other owner's.
BOOST_AUTO_TEST_CASE(owners_renamed_at_start) {
    test_env env(standard_table + standard_rows(50));
    std::string old_job, other_job;
    {
        asio::io_context io;
        export_engine before(io.get_executor(), env.config(50));
        pgexport::test::run(io, [&]() -> asio::awaitable<void> {
            co_await before.async_start();
            old_job = (co_await before.async_create(make_request("{}"), std::string("key:old"))).value();
            other_job = (co_await before.async_create(make_request("{}"), std::string("carol"))).value();
            co_await before.async_shutdown();
        });
    }
    auto config = env.config(50);
    std::string as_new, as_old, carol;
    std::size_t listed_new = 0;
    int renamed = -1, renamed_absent = -1;
    asio::io_context io;
    export_engine after(io.get_executor(), config);
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await after.async_start();
        renamed = (co_await after.async_rename_owner("key:old", "key:new")).value();
        renamed_absent = (co_await after.async_rename_owner("key:absent", "key:other")).value();
        auto seen = co_await after.async_status(old_job, std::string("key:new"));
        as_new = seen ? seen->owner.value_or("") : to_string(seen.error().code);
        auto hidden = co_await after.async_status(old_job, std::string("key:old"));
        as_old = hidden ? std::string("<found>") : std::string(to_string(hidden.error().code));
        auto other = co_await after.async_status(other_job, std::string("carol"));
        carol = other ? other->owner.value_or("") : to_string(other.error().code);
        listed_new = (co_await after.async_list(std::string("key:new"))).value()->size();
        co_await after.async_shutdown();
    });
    BOOST_TEST(renamed == 1);
    BOOST_TEST(renamed_absent == 0);
    BOOST_TEST(as_new == "key:new");
    BOOST_TEST(as_old == "not_found");
    BOOST_TEST(carol == "carol");
    BOOST_TEST(listed_new == 1u);
}

// The key must be unique, or keyset chunks skip rows at their ends: serve refuses a table whose key no
// unique index covers, and takes a view (nothing to check) with a warning.
BOOST_AUTO_TEST_CASE(key_must_be_unique) {
    test_env env(R"SQL(
        CREATE TABLE plain (id bigint, v text);
        CREATE TABLE partial (id bigint, v text);
        CREATE UNIQUE INDEX ON partial (id) WHERE id > 0;
        CREATE TABLE pair (id bigint, v text, UNIQUE (id, v));
        CREATE TABLE by_expression (id bigint, v text);
        CREATE UNIQUE INDEX ON by_expression ((id + 0));
        CREATE TABLE unique_index (id bigint, v text);
        CREATE UNIQUE INDEX ON unique_index (id) INCLUDE (v);
        CREATE TABLE primary_key (id bigint PRIMARY KEY, v text);
        CREATE VIEW a_view AS SELECT * FROM plain;
        INSERT INTO plain VALUES (1, 'a'), (1, 'b'), (2, 'c');
    )SQL");
    struct item {
        const char* table;
        bool accepted;
    };
    for (const item& c : {item{"plain", false}, item{"partial", false}, item{"pair", false},
                          item{"by_expression", false}, item{"unique_index", true}, item{"primary_key", true},
                          item{"a_view", true}}) {
        BOOST_TEST_CONTEXT("table " << c.table) {
            const std::string error = start_error(env.config(10, c.table));
            if (c.accepted) {
                BOOST_TEST(error.empty(), "refused: " << error);
            } else {
                BOOST_TEST(error.find("not covered by a unique index or primary key") != std::string::npos,
                           "the error: " << error);
            }
        }
    }
}

// 12. Cancellation of running, queued and finished jobs.
BOOST_AUTO_TEST_CASE(cancellation) {
    test_env env(standard_table + standard_rows(1500));
    auto config = env.config(1);
    config.max_concurrent = 1;
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::string running_id, queued_id, small_id;
    std::optional<job_info> running_cancelled, queued_cancelled, running_later, queued_later, small_done;
    std::optional<std::string> second_cancel, completed_cancel, unknown_cancel;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        auto a = co_await engine.async_create(make_request("{}"));
        auto b = co_await engine.async_create(make_request("{}"));
        if (!a || !b)
            throw std::runtime_error("async_create failed");
        running_id = *a;
        queued_id = *b;
        auto progress = co_await wait_for_progress(engine, running_id, 20);
        BOOST_TEST(to_string(progress.status) == "running");
        auto queued_status = must(co_await engine.async_status(queued_id), "status");
        BOOST_TEST(to_string(queued_status.status) == "queued");

        auto c1 = co_await engine.async_cancel(queued_id);
        queued_cancelled = must(std::move(c1), "cancel queued");
        auto c2 = co_await engine.async_cancel(running_id);
        running_cancelled = must(std::move(c2), "cancel running");
        auto again = co_await engine.async_cancel(running_id);
        if (!again)
            second_cancel = std::string(to_string(again.error().code));

        // The cancelled jobs stay cancelled, and the queue moves on: once the running job's runner has let
        // go of its slot, nothing of it is left to change its record.
        co_await wait_for("the cancelled job's runner ends", [&] { return engine.running_count() == 0; });
        auto small = co_await engine.async_create(make_request(R"({"filters": {"id": {"lte": 20}}})"));
        if (!small)
            throw std::runtime_error(small.error().message);
        small_id = *small;
        small_done = co_await wait_until_done(engine, small_id);
        running_later = must(co_await engine.async_status(running_id), "status");
        queued_later = must(co_await engine.async_status(queued_id), "status");

        auto c3 = co_await engine.async_cancel(small_id);
        if (!c3)
            completed_cancel = std::string(to_string(c3.error().code));
        auto c4 = co_await engine.async_cancel("00000000-0000-4000-8000-000000000000");
        if (!c4)
            unknown_cancel = std::string(to_string(c4.error().code));
        co_await engine.async_shutdown();
    });
    BOOST_TEST(to_string(queued_cancelled->status) == "cancelled");
    BOOST_TEST(to_string(running_cancelled->status) == "cancelled");
    BOOST_TEST(second_cancel.value_or("<accepted>") == "conflict");
    BOOST_TEST(to_string(running_later->status) == "cancelled");
    BOOST_TEST(to_string(queued_later->status) == "cancelled");
    BOOST_TEST(!queued_later->started_at.has_value());
    BOOST_TEST(running_later->finished_at.has_value());
    BOOST_TEST(completed_cancel.value_or("<accepted>") == "conflict");
    BOOST_TEST(unknown_cancel.value_or("<accepted>") == "not_found");
    for (const std::string& id : {running_id, queued_id}) {
        BOOST_TEST(env.part_files(id).empty());
        BOOST_TEST(!fs::exists(env.final_file(id)));
    }
    check_export(env, *small_done, "SELECT " + all_columns + " FROM t WHERE id <= 20 ORDER BY id");
    // Nothing else in the data directory (but its identity file).
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(env.dir))
        if (entry.path().filename() != ".pgexport-id")
            names.push_back(entry.path().filename().string());
    BOOST_TEST(names.size() == 1u);
    // A restarted engine does not take cancelled jobs up again: a job created after them (claims go oldest
    // first, one slot) completes while they stay as they were.
    const std::string finished_before = env.db.query("SELECT finished_at FROM export_jobs WHERE id = '" + running_id + "'").at(0);
    asio::io_context io2;
    export_engine again(io2.get_executor(), config);
    std::optional<job_info> after_restart, later_done;
    pgexport::test::run(io2, [&]() -> asio::awaitable<void> {
        co_await again.async_start();
        auto later = co_await again.async_create(make_request(R"({"filters": {"id": {"lte": 5}}})"));
        if (!later)
            throw std::runtime_error(later.error().message);
        later_done = co_await wait_until_done(again, *later);
        after_restart = must(co_await again.async_status(running_id), "status");
        co_await again.async_shutdown();
    });
    BOOST_TEST(to_string(later_done->status) == "completed");
    BOOST_TEST(to_string(after_restart->status) == "cancelled");
    BOOST_TEST(env.db.query("SELECT finished_at FROM export_jobs WHERE id = '" + running_id + "'").at(0) ==
               finished_before);
    BOOST_TEST(env.part_files(running_id).empty());
}

// 13. max_concurrent = 1: never two jobs running at once, all complete, in FIFO order.
BOOST_AUTO_TEST_CASE(concurrency_limit) {
    test_env env(standard_table + standard_rows(600));
    auto config = env.config(20);
    config.max_concurrent = 1;
    const std::vector<export_case> cases = {
        {"first", R"({})"},
        {"second", R"({"filters": {"category": "books"}})", "category = 'books'"},
        {"third", R"({"columns": ["description"]})", "", "description"},
    };
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::size_t max_running = 0;
    bool saw_queued_while_running = false;
    std::vector<job_info> done;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        std::vector<std::string> ids;
        for (const auto& c : cases) {
            auto id = co_await engine.async_create(make_request(c.request));
            if (!id)
                throw std::runtime_error(id.error().message);
            ids.push_back(*id);
        }
        const auto deadline = clock_type::now() + job_timeout;
        for (;;) {
            // One query for every job: a consistent picture.
            auto jobs = (co_await engine.async_list()).value();
            std::size_t running = 0, queued = 0, ended = 0;
            for (const auto& j : *jobs) {
                running += j.status == job_status::running;
                queued += j.status == job_status::queued;
                ended += is_final(j.status);
            }
            max_running = std::max(max_running, running);
            saw_queued_while_running |= running == 1 && queued > 0;
            if (ended == ids.size() || clock_type::now() > deadline)
                break;
            co_await sleep_for(3ms);
        }
        for (const auto& id : ids)
            done.push_back(must(co_await engine.async_status(id), "status"));
        co_await engine.async_shutdown();
    });
    BOOST_TEST(max_running == 1u);
    BOOST_TEST(saw_queued_while_running);
    BOOST_TEST_REQUIRE(done.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i)
        BOOST_TEST_CONTEXT("job " << cases[i].name) {
            check_export(env, done[i], select_for(cases[i]));
        }
    for (std::size_t i = 1; i < done.size(); ++i) {
        BOOST_TEST_REQUIRE((done[i].started_at && done[i - 1].finished_at));
        BOOST_TEST((*done[i].started_at >= *done[i - 1].finished_at),
                   "job " << i << " started before job " << i - 1 << " ended");
    }
}

// The waiting queue is bounded by configuration: one more job than it holds is refused, not queued.
BOOST_AUTO_TEST_CASE(queue_limit) {
    test_env env(standard_table + standard_rows(300));
    auto config = env.config(1); // one row per chunk: the first job stays running
    config.max_concurrent = 1;
    config.max_queued = 1;
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::vector<result<std::string>> created;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        for (int i = 0; i < 3; ++i)
            created.push_back(co_await engine.async_create(make_request("{}")));
        for (auto& c : created)
            if (c)
                co_await engine.async_cancel(*c);
        co_await engine.async_shutdown();
    });
    BOOST_TEST_REQUIRE(created.size() == 3u);
    BOOST_TEST(created[0].has_value()); // running
    BOOST_TEST(created[1].has_value()); // waiting
    BOOST_TEST_REQUIRE(!created[2].has_value());
    BOOST_TEST(created[2].error().code == errc::too_busy);
}

// Per-key quotas (max_jobs_per_key): exact while three instances create jobs for one key at once; other
// keys and calls without a key are not held back by it; a job that ends frees its place.
BOOST_AUTO_TEST_CASE(quota_per_key) {
    // A view whose COPY takes 50 ms a row: no job can end while the test looks at the quota.
    test_env env(standard_table + standard_rows(1000) +
                 "CREATE FUNCTION slow() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
                 " IF current_query() ILIKE 'COPY%' THEN PERFORM pg_sleep(0.05); END IF; RETURN true; END $$;"
                 "CREATE VIEW slow_t AS SELECT * FROM t WHERE slow();");
    asio::io_context io;
    std::vector<std::unique_ptr<export_engine>> engines;
    for (int i = 0; i < 3; ++i) {
        auto config = env.config(1, "slow_t");
        config.max_concurrent = 1;
        config.max_jobs_per_key = 5;
        config.instance_id = "quota-" + std::to_string(i);
        engines.push_back(std::make_unique<export_engine>(io.get_executor(), config));
    }
    struct round_result {
        std::vector<std::string> accepted;
        std::vector<std::string> refusals; // code: message
    };
    constexpr int rounds = 4, creates = 24;
    std::vector<round_result> results(rounds);
    std::optional<std::string> other_key, no_key, after_cancel, still_full;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        for (auto& e : engines)
            co_await e->async_start();
        for (int r = 0; r < rounds; ++r) {
            // Every create of the round in flight at once, spread over the instances: their inserts race in
            // the database on three connections.
            const std::string key = "key:round-" + std::to_string(r);
            int pending = creates;
            for (int i = 0; i < creates; ++i)
                asio::co_spawn(io, engines[static_cast<std::size_t>(i % 3)]->async_create(make_request("{}"), key, key),
                               [&, r](std::exception_ptr e, result<std::string> id) {
                                   --pending;
                                   auto& out = results[static_cast<std::size_t>(r)];
                                   if (e)
                                       out.refusals.push_back("exception");
                                   else if (id)
                                       out.accepted.push_back(*id);
                                   else
                                       out.refusals.push_back(std::string(to_string(id.error().code)) + ": " +
                                                              id.error().message);
                               });
            while (pending > 0)
                co_await sleep_for(5ms);
        }
        auto describe = [](const result<std::string>& id) {
            return id ? std::string("<accepted>") : std::string(to_string(id.error().code));
        };
        other_key = describe(co_await engines[0]->async_create(make_request("{}"), "key:other", "key:other"));
        no_key = describe(co_await engines[1]->async_create(make_request("{}")));
        const std::string full = "key:round-0";
        still_full = describe(co_await engines[2]->async_create(make_request("{}"), full, full));
        if (!results[0].accepted.empty())
            co_await engines[0]->async_cancel(results[0].accepted.front());
        after_cancel = describe(co_await engines[2]->async_create(make_request("{}"), full, full));
        for (auto& e : engines)
            co_await e->async_shutdown();
    });
    for (int r = 0; r < rounds; ++r)
        BOOST_TEST_CONTEXT("round " << r) {
            const auto& out = results[static_cast<std::size_t>(r)];
            BOOST_TEST(out.accepted.size() == 5u);
            BOOST_TEST(out.refusals.size() == static_cast<std::size_t>(creates - 5));
            for (const auto& refusal : out.refusals)
                BOOST_TEST((refusal.starts_with("too_many_jobs: ") &&
                            refusal.find("--max-jobs-per-key 5") != std::string::npos),
                           refusal);
            BOOST_TEST(env.count("SELECT FROM export_jobs WHERE quota_key = 'key:round-" + std::to_string(r) +
                                 "' AND status IN ('queued', 'running')") == 5);
        }
    BOOST_TEST(other_key.value_or("") == "<accepted>");
    BOOST_TEST(no_key.value_or("") == "<accepted>");
    BOOST_TEST(still_full.value_or("") == "too_many_jobs");
    BOOST_TEST(after_cancel.value_or("") == "<accepted>");
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

// The data directory: made 0700 with 0600 files; refused when its group or others may write to it (0755
// is taken, with a warning); new exports are refused while its file system has less free space than
// min_free_disk.
BOOST_AUTO_TEST_CASE(data_directory_and_free_space) {
    test_env env(standard_table + standard_rows(50));
    auto mode_of = [](const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()); };
    const auto done = run_jobs(env.config(20), {make_request("{}")});
    BOOST_TEST_REQUIRE(done.size() == 1u);
    check_export(env, done[0], "SELECT " + all_columns + " FROM t ORDER BY id");
    BOOST_TEST(mode_of(env.dir) == 0700u);
    BOOST_TEST(mode_of(env.final_file(done[0].id)) == 0600u);

    for (unsigned mode : {0770u, 0777u, 01777u, 0722u}) {
        fs::permissions(env.dir, static_cast<fs::perms>(mode));
        const std::string error = start_error(env.config(20));
        BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
            BOOST_TEST(error.find(env.dir.string()) != std::string::npos, error);
            BOOST_TEST(error.find("writable by its group or by others") != std::string::npos, error);
            BOOST_TEST(error.find("chmod 700") != std::string::npos, error);
        }
    }
    fs::permissions(env.dir, static_cast<fs::perms>(0755));
    BOOST_TEST(start_error(env.config(20)).empty());
    BOOST_TEST(mode_of(env.dir) == 0755u); // taken as it is, not changed behind the operator's back

    // No file system has 2^62 bytes free.
    auto config = env.config(20);
    config.min_free_disk = std::uint64_t{1} << 62;
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::optional<problem> refused;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        auto id = co_await engine.async_create(make_request("{}"));
        if (!id)
            refused = id.error();
        co_await engine.async_shutdown();
    });
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(to_string(refused->code) == "insufficient_storage");
    BOOST_TEST(refused->message.find("--min-free-disk") != std::string::npos, refused->message);
    BOOST_TEST(env.count("SELECT FROM export_jobs") == 1); // the first test's job only
}

// 14. The status of a finished job.
BOOST_AUTO_TEST_CASE(status_fields) {
    test_env env(standard_table + standard_rows(700));
    const std::string where = "category = 'books' AND amount > 10";
    const std::string select = "SELECT " + all_columns + " FROM t WHERE " + where + " ORDER BY id";
    asio::io_context io;
    export_engine engine(io.get_executor(), env.config(7));
    std::optional<job_info> done, empty, empty_table;
    std::optional<job_info> listed;
    std::string malformed, unknown, other_owner, upper_case, owner_seen;
    std::size_t bob_jobs = 99, alice_jobs = 99;
    pgexport::test::run(io, [&]() -> asio::awaitable<void> {
        co_await engine.async_start();
        auto id = co_await engine.async_create(
            make_request(R"({"filters": {"category": "books", "amount": {"gt": 10}}})"));
        auto none = co_await engine.async_create(make_request(R"({"filters": {"category": "nope"}})"));
        if (!id || !none)
            throw std::runtime_error("async_create failed");
        done = co_await wait_until_done(engine, *id);
        empty = co_await wait_until_done(engine, *none);
        auto jobs = (co_await engine.async_list()).value();
        for (const auto& j : *jobs)
            if (j.id == *id)
                listed = j;

        // Lookups: malformed id, unknown id, another owner's job, upper-case id.
        auto code_of = [](const result<job_info>& r) {
            return r ? std::string("<found>") : std::string(to_string(r.error().code));
        };
        auto owned =
            co_await engine.async_create(make_request(R"({"filters": {"id": 1}})"), std::string("alice"));
        if (!owned)
            throw std::runtime_error(owned.error().message);
        auto owned_done = co_await wait_until_done(engine, *owned);
        BOOST_TEST(owned_done.owner.value_or("") == "alice");
        malformed = code_of(co_await engine.async_status("not-a-uuid"));
        unknown = code_of(co_await engine.async_status("00000000-0000-4000-8000-000000000000"));
        other_owner = code_of(co_await engine.async_status(*owned, std::string("bob")));
        std::string upper = *owned;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        upper_case = code_of(co_await engine.async_status(upper, std::string("alice")));
        auto seen = co_await engine.async_status(*owned);
        owner_seen = code_of(seen);
        auto bob = (co_await engine.async_list(std::string("bob"))).value();
        bob_jobs = bob->size();
        auto alice = (co_await engine.async_list(std::string("alice"))).value();
        alice_jobs = alice->size();
        co_await engine.async_shutdown();
    });
    BOOST_TEST_REQUIRE(done.has_value());
    check_export(env, *done, select);
    const std::int64_t rows = env.count(select);
    const std::int64_t max_id = std::stoll(env.db.query("SELECT max(id) FROM t WHERE " + where).at(0));
    BOOST_TEST(done->rows_exported == rows);
    BOOST_TEST(done->bytes_written == static_cast<std::int64_t>(fs::file_size(env.final_file(done->id))));
    BOOST_TEST(done->total_rows_estimate.has_value());
    BOOST_TEST(done->total_rows_estimate.value_or(0) > 0);
    BOOST_TEST((done->last_processed_id && *done->last_processed_id == max_id));
    BOOST_TEST((done->file_path && *done->file_path == env.final_file(done->id).string()));
    BOOST_TEST(!done->error.has_value());
    BOOST_TEST((done->started_at && done->finished_at));
    if (done->started_at && done->finished_at) {
        BOOST_TEST((done->created_at <= *done->started_at));
        BOOST_TEST((*done->started_at <= *done->finished_at));
    }
    // The stored request (jsonb: key order not kept) holds the same filters.
    auto by_column = [](export_request r) {
        std::sort(r.filters.begin(), r.filters.end(), [](const filter& a, const filter& b) {
            return std::pair(a.column, to_string(a.op)) < std::pair(b.column, to_string(b.op));
        });
        return r;
    };
    BOOST_TEST((by_column(done->request) ==
                by_column(make_request(R"({"filters": {"category": "books", "amount": {"gt": 10}}})"))));
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST(listed->rows_exported == rows);
    BOOST_TEST(to_string(listed->status) == "completed");

    BOOST_TEST_REQUIRE(empty.has_value());
    check_export(env, *empty, "SELECT " + all_columns + " FROM t WHERE category = 'nope' ORDER BY id");
    BOOST_TEST(empty->rows_exported == 0);
    BOOST_TEST(!empty->last_processed_id.has_value());
    BOOST_TEST(empty->bytes_written ==
               static_cast<std::int64_t>(all_columns.size() - 5 + 1)); // header, no spaces

    BOOST_TEST(malformed == "invalid_request"); // the contract's 400 (engine.hpp's comment says not_found)
    BOOST_TEST(unknown == "not_found");
    BOOST_TEST(other_owner == "not_found");
    BOOST_TEST(upper_case == "<found>");
    BOOST_TEST(owner_seen == "<found>"); // no owner filter sees every job
    BOOST_TEST(bob_jobs == 0u);
    BOOST_TEST(alice_jobs == 1u);
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
