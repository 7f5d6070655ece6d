#pragma once
// What every integration suite of the engine shares: a scratch database with a table and the job tables and
// a data directory of its own (test_env), the standard table, requests, the waits on a job's status, and
// the check that a finished file equals, byte for byte, PostgreSQL's COPY of the same SELECT.

#include "test_support.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgexport::test {

// The suites' vocabulary: `using namespace pgexport::test;` brings these along.
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

using clock_type = std::chrono::steady_clock;

// How long a wait for a job (or any state a test waits for) may take before the test fails.
inline constexpr std::chrono::milliseconds job_timeout = std::chrono::seconds(60);

// The table of most tests: every column nullable so that NULL filters have something to find.
extern const std::string standard_table;
// The standard table's columns, in order.
extern const std::string all_columns;
// `n` deterministic rows for the standard table with NULLs, empty strings, commas, quotes and line breaks
// sprinkled in.
std::string standard_rows(int n);

// A scratch database with a table (whatever `setup_sql` makes), the job tables, and an empty data directory
// of its own (not created: the engine makes it).
struct test_env {
    scratch_database db;
    std::filesystem::path dir;

    explicit test_env(const std::string& setup_sql);
    ~test_env();
    test_env(const test_env&) = delete;
    test_env& operator=(const test_env&) = delete;

    // An engine on this database and directory, short retry delays, two jobs at once.
    engine::engine_config config(int chunk_rows, std::string table = "t", std::string key = "id") const;

    std::filesystem::path final_file(const std::string& id) const;
    // The partial file that holds the job's checkpoint: the one of the lease that wrote it.
    std::filesystem::path part_file(const std::string& id) const;
    // Every partial file of the job, whichever lease wrote it.
    std::vector<std::filesystem::path> part_files(const std::string& id) const;
    // The data directory's names but its identity file (.pgexport-id), which stays.
    std::set<std::string> names() const;

    // The number of rows `select` returns.
    std::int64_t count(const std::string& select) const;
};

// The request a POST /api/export body makes; throws when it does not parse.
engine::export_request make_request(const std::string& body);

// Creates a job; its id, or throws with the engine's refusal.
boost::asio::awaitable<std::string> create(engine::export_engine& engine, const std::string& body,
                                           std::optional<std::string> owner = {});

boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d);

bool is_final(engine::job_status s);

// The job of `r`, or throws naming `what` and the engine's problem.
engine::job_info must(engine::result<engine::job_info> r, const char* what);

// Polls until the job has ended and returns its last status; throws when it has not ended by `timeout`.
boost::asio::awaitable<engine::job_info> wait_until_done(engine::export_engine& engine, std::string id,
                                                         std::chrono::milliseconds timeout = job_timeout);

// Polls until the job has exported at least `rows` rows or ended; throws when neither came within the
// job timeout.
boost::asio::awaitable<engine::job_info> wait_for_progress(engine::export_engine& engine, std::string id,
                                                           std::int64_t rows);

// Polls the job's status until `wanted` (or not_found, when `wanted` is nullopt); the last status seen.
// Throws when it has not come within the job timeout.
boost::asio::awaitable<std::optional<engine::job_info>>
wait_for_status(engine::export_engine& engine, const std::string& id, std::optional<engine::job_status> wanted);

// Polls `done()` every 10 ms until it holds; throws naming `what` when it does not within the job timeout.
template <typename Predicate> boost::asio::awaitable<void> wait_for(const std::string& what, Predicate done) {
    const auto deadline = clock_type::now() + job_timeout;
    while (!done()) {
        if (clock_type::now() > deadline)
            throw std::runtime_error(what + ": not within the job timeout");
        co_await sleep_for(std::chrono::milliseconds(10));
    }
}

// Starts the engine, runs `body`, and shuts the engine down afterwards, also when `body` throws: a failed
// check then ends the test instead of leaving the engine's loops (and the io_context) running forever.
template <class Body> void run_engine(boost::asio::io_context& io, engine::export_engine& engine, Body body) {
    run(io, [&]() -> boost::asio::awaitable<void> {
        co_await engine.async_start();
        std::exception_ptr failure;
        try {
            co_await body();
        } catch (...) {
            failure = std::current_exception();
        }
        co_await engine.async_shutdown();
        if (failure)
            std::rethrow_exception(failure);
    });
}

// A test failure unless `actual` equals `expected` (PostgreSQL's COPY), naming the first differing byte.
void check_same(const std::string& actual, const std::string& expected);

// Checks a finished job against COPY (<select>): status, file content, no leftover .part, counters.
void check_export(const test_env& env, const engine::job_info& job, const std::string& select);

// What async_start throws for `config` ("" when the engine starts); the engine is shut down again.
std::string start_error(const engine::engine_config& config);

// Starts an engine, creates one job per request, waits for all of them and shuts the engine down. A request
// the engine refuses comes back as a failed job whose error says so.
std::vector<engine::job_info> run_jobs(const engine::engine_config& config,
                                       const std::vector<engine::export_request>& requests);

// A request and the SQL that selects what its file must hold.
struct export_case {
    std::string name;
    std::string request;      // POST /api/export body
    std::string where = "";   // the same filters in SQL ("" for none)
    std::string columns = ""; // the same columns in SQL ("" for all)
};

std::string select_for(const export_case& c, const std::string& table = "t", const std::string& key = "id",
                       const std::string& default_columns = all_columns);

// Runs every case as a job of one engine and checks each file.
void check_cases(const test_env& env, const engine::engine_config& config, const std::vector<export_case>& cases,
                 const std::string& default_columns = all_columns);

} // namespace pgexport::test
