#include "engine_fixture.hpp"

#include <pgexport/migrations.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <sstream>
#include <utility>

namespace pgexport::test {

namespace json = boost::json;
using namespace engine;

const std::string standard_table =
    "CREATE TABLE t (id bigserial PRIMARY KEY, category text, created_at timestamptz, amount numeric(12,2),"
    " status text, description text);";

const std::string all_columns = "id, category, created_at, amount, status, description";

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

test_env::test_env(const std::string& setup_sql) {
    if (!setup_sql.empty())
        db.query(setup_sql);
    apply_migrations(db.url());
    dir = fs::temp_directory_path() / ("pgexport-test-" + db.name());
    fs::remove_all(dir);
}

test_env::~test_env() {
    std::error_code ec;
    fs::remove_all(dir, ec);
}

engine_config test_env::config(int chunk_rows, std::string table, std::string key) const {
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

fs::path test_env::final_file(const std::string& id) const {
    return dir / (id + ".csv");
}

fs::path test_env::part_file(const std::string& id) const {
    const std::string token = db.query("SELECT part_token FROM export_jobs WHERE id = '" + id + "'").at(0);
    return dir / (id + (token.empty() ? "" : "." + token) + ".csv.part");
}

std::vector<fs::path> test_env::part_files(const std::string& id) const {
    std::vector<fs::path> found;
    if (fs::exists(dir))
        for (const auto& entry : fs::directory_iterator(dir)) {
            const std::string name = entry.path().filename().string();
            if (name.starts_with(id + ".") && name.ends_with(".csv.part"))
                found.push_back(entry.path());
        }
    return found;
}

std::set<std::string> test_env::names() const {
    std::set<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename() != ".pgexport-id")
            found.insert(entry.path().filename().string());
    return found;
}

std::int64_t test_env::count(const std::string& select) const {
    return std::stoll(db.query("SELECT count(*) FROM (" + select + ") AS s").at(0));
}

export_request make_request(const std::string& body) {
    auto r = parse_export_request(json::parse(body));
    if (!r)
        throw std::runtime_error("the test's request does not parse: " + body + ": " + r.error().message);
    return *r;
}

asio::awaitable<std::string> create(export_engine& engine, const std::string& body,
                                    std::optional<std::string> owner) {
    auto id = co_await engine.async_create(make_request(body), std::move(owner));
    if (!id)
        throw std::runtime_error("async_create: " + id.error().message);
    co_return *id;
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

asio::awaitable<job_info> wait_until_done(export_engine& engine, std::string id, std::chrono::milliseconds timeout) {
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

asio::awaitable<std::optional<job_info>> wait_for_status(export_engine& engine, const std::string& id,
                                                         std::optional<job_status> wanted) {
    const auto deadline = clock_type::now() + job_timeout;
    for (;;) {
        auto status = co_await engine.async_status(id);
        if (!status && status.error().code != errc::not_found)
            throw std::runtime_error("async_status: " + status.error().message);
        if (!status && !wanted)
            co_return std::nullopt;
        if (status && wanted && status->status == *wanted)
            co_return *status;
        if (clock_type::now() > deadline)
            throw std::runtime_error("job " + id + " did not become " +
                                     (wanted ? std::string(to_string(*wanted)) : "unknown") + "; it is " +
                                     (status ? std::string(to_string(status->status)) : "unknown"));
        co_await sleep_for(10ms);
    }
}

namespace {

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

} // namespace

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

std::string start_error(const engine_config& config) {
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::string error;
    run(io, [&]() -> asio::awaitable<void> {
        try {
            co_await engine.async_start();
        } catch (const std::exception& e) {
            error = e.what();
        }
        co_await engine.async_shutdown();
    });
    return error;
}

std::vector<job_info> run_jobs(const engine_config& config, const std::vector<export_request>& requests) {
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    std::vector<job_info> jobs;
    run(io, [&]() -> asio::awaitable<void> {
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

std::string select_for(const export_case& c, const std::string& table, const std::string& key,
                       const std::string& default_columns) {
    return "SELECT " + (c.columns.empty() ? default_columns : c.columns) + " FROM " + table +
           (c.where.empty() ? "" : " WHERE " + c.where) + " ORDER BY " + key;
}

void check_cases(const test_env& env, const engine_config& config, const std::vector<export_case>& cases,
                 const std::string& default_columns) {
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

} // namespace pgexport::test
