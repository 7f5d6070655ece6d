// Exports that are interrupted, against a real PostgreSQL: a job stopped part way (its partial file then
// damaged in each way a crash can leave it, or the crash between the rename and the database update) and
// taken up by another engine, and a job whose export connection is killed three times. Each file must
// equal the uninterrupted one and PostgreSQL's COPY byte for byte; the counters never go backwards.
//
// Each test has a scratch database and a data directory of its own (tests/support/engine_fixture.hpp).

#include "engine_fixture.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace pgexport::engine;
using namespace pgexport::test;

BOOST_AUTO_TEST_SUITE(export_recovery)

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

BOOST_AUTO_TEST_SUITE_END()
