// The retention sweeper and DELETE against a real PostgreSQL and a real data directory: completed jobs
// expire and lose their files, old ended records go, orphan files go; what must never be touched stays
// (a running job's partial file, a job's finished file, files not named like ours, other tables' jobs).
//
// Each test has a scratch database and a data directory of its own. The tests wait for states (a job's
// status, the engine's count of sweeps), never for a time that decides the result.

#include "engine_fixture.hpp"

#include "store/pg.hpp"

#include <pgexport/engine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace pgexport::engine;
using namespace pgexport::test;

namespace {

constexpr int gate_lock = 424242;

// A table t of `rows` rows, and tg: the same rows behind a gate. A COPY of tg's rows waits while the gate
// is held (gate below), so that a job of tg stays running, with its partial file, for as long as a test
// needs; creating the job (max key, the plan) never waits.
std::string tables_sql(int rows) {
    return "CREATE TABLE t (id bigserial PRIMARY KEY, name text);"
           "INSERT INTO t (name) SELECT 'row ' || i FROM generate_series(1, " +
           std::to_string(rows) +
           ") AS i;"
           "CREATE FUNCTION gate() RETURNS boolean LANGUAGE plpgsql STABLE AS $$ BEGIN"
           " IF current_query() ILIKE 'COPY%' THEN PERFORM pg_advisory_lock_shared(" +
           std::to_string(gate_lock) + "); PERFORM pg_advisory_unlock_shared(" + std::to_string(gate_lock) +
           "); END IF; RETURN true; END $$;"
           "CREATE VIEW tg AS SELECT * FROM t WHERE id <= 0 OR gate();";
}

// The shared test_env on tables_sql, its data directory made up front, and job rows and files put there
// by hand.
struct sweeper_env : test_env {
    explicit sweeper_env(int rows) : test_env(tables_sql(rows)) { fs::create_directories(dir); }

    engine_config config(std::chrono::milliseconds retention) const {
        engine_config c = test_env::config(10);
        c.more_tables = {{"tg", "id"}};
        c.retention = retention;
        return c;
    }

    // A job row written directly (a state the test could not otherwise reach at will); its id.
    std::string insert_job(const std::string& status, const std::string& table, const std::string& finished_at) const {
        return db
            .query("INSERT INTO export_jobs (id, status, request, table_name, key_column, finished_at)"
                   " VALUES (gen_random_uuid(), '" +
                   status + "', '{}', '" + table + "', 'id', " + finished_at + ") RETURNING id")
            .at(0);
    }
    std::string stored_status(const std::string& id) const {
        auto rows = db.query("SELECT status FROM export_jobs WHERE id = '" + id + "'");
        return rows.empty() ? "<none>" : rows.front();
    }

    fs::path touch(const std::string& name) const {
        const fs::path p = dir / name;
        std::ofstream(p) << "x";
        return p;
    }
};

// Holds the gate closed from a session of its own until released or destroyed.
class held_gate {
public:
    explicit held_gate(const std::string& url)
        : conn_(pgexport::engine::detail::connect_blocking(url, 0ms, 10s)) {
        pgexport::engine::detail::exec(conn_.get(), "SELECT pg_advisory_lock(" + std::to_string(gate_lock) + ")");
    }
    void release() { conn_.reset(); }

private:
    pgexport::engine::detail::conn_ptr conn_;
};

const std::string other_uuid = "7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a"; // no job has this id

} // namespace

BOOST_AUTO_TEST_SUITE(sweeper)

// One pass with a long retention, the jobs' ages set in the table: exactly what must go goes.
BOOST_AUTO_TEST_CASE(one_pass_expires_removes_and_cleans) {
    sweeper_env env(50);
    asio::io_context io;
    export_engine engine(io.get_executor(), env.config(1h));
    run_engine(io, engine, [&]() -> asio::awaitable<void> {
        // The pass at start has run (on an empty directory); the next one is a minute away at the earliest.
        co_await wait_for("the first sweep ran", [&] { return engine.stats().sweeps >= 1; });

        const std::string old_done = co_await create(engine, R"({})");
        const std::string new_done = co_await create(engine, R"({"filters": {"id": {"lte": 5}}})");
        const job_info old_completed = *co_await wait_for_status(engine, old_done, job_status::completed);
        co_await wait_for_status(engine, new_done, job_status::completed);
        env.db.query("UPDATE export_jobs SET finished_at = now() - interval '61 minutes' WHERE id = '" + old_done + "'");

        const std::string failed_old = env.insert_job("failed", "t", "now() - interval '2 hours'");
        const std::string cancelled_new = env.insert_job("cancelled", "t", "now()");
        const std::string expired_mid = env.insert_job("expired", "t", "now() - interval '90 minutes'");
        const std::string expired_old = env.insert_job("expired", "t", "now() - interval '3 hours'");
        const std::string completed_other = env.insert_job("completed", "other", "now() - interval '2 hours'");
        const std::string queued_other = env.insert_job("queued", "other", "NULL");
        const std::string running_other = env.insert_job("running", "other", "NULL");

        const std::set<std::string> removed = {
            failed_old + ".csv",          cancelled_new + ".3.csv.part", cancelled_new + ".csv.part",
            cancelled_new + ".csv",       expired_mid + ".csv",          new_done + ".9.csv.part",
            other_uuid + ".4.csv.part",   other_uuid + ".csv",
        };
        const std::set<std::string> kept = {
            new_done + ".csv",
            completed_other + ".csv", // another table's job: its instances expire it
            queued_other + ".1.csv.part",
            queued_other + ".csv",
            running_other + ".2.csv.part",
            running_other + ".csv", // published, its completion not recorded yet
            "notes.txt",
            ".pgexport-write-test-1",
            other_uuid + ".csv.bak",
            "7D3C2B1A-0F9E-4D8C-8B7A-6F5E4D3C2B1A.csv",
        };
        for (const auto& name : removed)
            env.touch(name);
        for (const auto& name : kept)
            if (name != new_done + ".csv")
                env.touch(name);
        fs::create_directory(env.dir / (other_uuid.substr(0, 35) + "0.csv")); // a directory: not ours
        BOOST_TEST_REQUIRE(fs::exists(env.dir / (old_done + ".csv")));

        const sweep_report report = (co_await engine.async_sweep()).value();
        BOOST_TEST(report.jobs_expired == 1);
        BOOST_TEST(report.records_removed == 2);
        BOOST_TEST(report.files_removed == static_cast<std::int64_t>(removed.size()) + 1);

        BOOST_TEST(env.stored_status(old_done) == "expired");
        BOOST_TEST(env.db.query("SELECT file_path IS NULL FROM export_jobs WHERE id = '" + old_done + "'").at(0) == "t");
        BOOST_TEST(!fs::exists(env.dir / (old_done + ".csv")));
        const job_info expired = *co_await wait_for_status(engine, old_done, job_status::expired);
        BOOST_TEST_REQUIRE(expired.finished_at.has_value());
        BOOST_TEST_REQUIRE(expired.expires_at.has_value());
        BOOST_TEST((*expired.expires_at - *expired.finished_at == std::chrono::hours(1)));
        BOOST_TEST(expired.rows_exported == old_completed.rows_exported);

        BOOST_TEST(env.stored_status(failed_old) == "<none>");
        BOOST_TEST(env.stored_status(expired_old) == "<none>");
        BOOST_TEST(env.stored_status(cancelled_new) == "cancelled");
        BOOST_TEST(env.stored_status(expired_mid) == "expired");
        BOOST_TEST(env.stored_status(new_done) == "completed");
        BOOST_TEST(env.stored_status(completed_other) == "completed");
        BOOST_TEST(env.stored_status(queued_other) == "queued");
        BOOST_TEST(env.stored_status(running_other) == "running");
        const auto left = env.names();
        for (const auto& name : removed)
            BOOST_TEST_CONTEXT("file " << name) { BOOST_TEST(!left.contains(name)); }
        for (const auto& name : kept)
            BOOST_TEST_CONTEXT("file " << name) { BOOST_TEST(left.contains(name)); }
        BOOST_TEST(fs::is_directory(env.dir / (other_uuid.substr(0, 35) + "0.csv")));

        const job_info completed_now = *co_await wait_for_status(engine, new_done, job_status::completed);
        BOOST_TEST_REQUIRE(completed_now.expires_at.has_value());
        BOOST_TEST((*completed_now.expires_at - *completed_now.finished_at == std::chrono::hours(1)));

        // A second pass finds nothing more to do.
        const sweep_report again = (co_await engine.async_sweep()).value();
        BOOST_TEST(again.jobs_expired == 0);
        BOOST_TEST(again.records_removed == 0);
        BOOST_TEST(again.files_removed == 0);
    });
}

// A tiny retention and the sweeper on its own timer: a completed job expires by itself, orphans go, and a
// running job's partial file, present through several passes, is never touched.
BOOST_AUTO_TEST_CASE(periodic_sweeps_with_a_tiny_retention) {
    sweeper_env env(50);
    const auto retention = 2s;
    asio::io_context io;
    export_engine engine(io.get_executor(), env.config(retention));
    held_gate gate(env.db.url());
    run_engine(io, engine, [&]() -> asio::awaitable<void> {
        const std::string running = co_await create(engine, R"({"table": "tg"})");
        co_await wait_for_status(engine, running, job_status::running);
        co_await wait_for("the running job has its part", [&] { return !env.part_files(running).empty(); });
        const std::vector<fs::path> running_parts = env.part_files(running);

        const std::string done = co_await create(engine, R"({})");
        const job_info completed = *co_await wait_for_status(engine, done, job_status::completed);
        BOOST_TEST_REQUIRE(completed.expires_at.has_value());
        BOOST_TEST((*completed.expires_at - *completed.finished_at == retention));
        const job_info expired = *co_await wait_for_status(engine, done, job_status::expired);
        // The record says expired first, then the file goes.
        co_await wait_for("the expired file is deleted", [&] { return !fs::exists(env.dir / (done + ".csv")); });
        BOOST_TEST((expired.expires_at == completed.expires_at));
        BOOST_TEST(!expired.file_path.has_value());

        const std::vector<std::string> orphans = {other_uuid + ".5.csv.part", other_uuid + ".csv",
                                                  done + ".7.csv.part"};
        for (const auto& name : orphans)
            env.touch(name);
        env.touch("notes.txt");
        // Two passes that began after the files were there.
        const auto seen = engine.stats().sweeps;
        co_await wait_for("two more sweeps ran", [&] { return engine.stats().sweeps >= seen + 2; });
        const auto left = env.names();
        for (const auto& name : orphans)
            BOOST_TEST_CONTEXT("orphan " << name) { BOOST_TEST(!left.contains(name)); }
        BOOST_TEST(left.contains("notes.txt"));
        for (const auto& part : running_parts)
            BOOST_TEST_CONTEXT("running job's part " << part) { BOOST_TEST(left.contains(part.filename().string())); }
        const auto still = co_await engine.async_status(running);
        BOOST_TEST_REQUIRE(still.has_value());
        BOOST_TEST(to_string(still->status) == "running");
        BOOST_TEST(!still->expires_at.has_value());

        // Released, the held job completes with every row (its file was whole), then expires, and its
        // expired record goes one retention later.
        gate.release();
        const job_info held_done = *co_await wait_for_status(engine, running, job_status::expired);
        BOOST_TEST(held_done.rows_exported == 50);
        co_await wait_for_status(engine, running, std::nullopt);
        co_await wait_for_status(engine, done, std::nullopt);
        BOOST_TEST(env.names() == std::set<std::string>{"notes.txt"});
        BOOST_TEST(engine.stats().jobs_expired == 2);
    });
}

// DELETE's engine side: a queued or running job is cancelled, an ended one deleted with its files.
BOOST_AUTO_TEST_CASE(delete_cancels_or_removes) {
    sweeper_env env(50);
    auto config = env.config(1h);
    config.max_concurrent = 1;
    asio::io_context io;
    export_engine engine(io.get_executor(), config);
    held_gate gate(env.db.url());
    run_engine(io, engine, [&]() -> asio::awaitable<void> {
        const std::string running = co_await create(engine, R"({"table": "tg"})", "owner-a");
        co_await wait_for_status(engine, running, job_status::running);
        const std::string queued = co_await create(engine, R"({})", "owner-a");
        const auto waiting = co_await engine.async_status(queued);
        BOOST_TEST_REQUIRE(waiting.has_value());
        BOOST_TEST(to_string(waiting->status) == "queued");

        // Another owner's job is unknown to the caller, and stays.
        auto foreign = co_await engine.async_delete(queued, "owner-b");
        BOOST_TEST_REQUIRE(!foreign.has_value());
        BOOST_TEST(to_string(foreign.error().code) == "not_found");

        auto q = co_await engine.async_delete(queued, "owner-a");
        BOOST_TEST_REQUIRE(q.has_value());
        BOOST_TEST((q->action == delete_action::cancelled));
        BOOST_TEST(to_string(q->job.status) == "cancelled");
        BOOST_TEST(q->job.expires_at.has_value());

        co_await wait_for("the running job has its part", [&] { return !env.part_files(running).empty(); });
        auto r = co_await engine.async_delete(running);
        BOOST_TEST_REQUIRE(r.has_value());
        BOOST_TEST((r->action == delete_action::cancelled));
        BOOST_TEST(env.part_files(running).empty());
        gate.release();

        // Ended now: a second DELETE removes the record.
        auto r2 = co_await engine.async_delete(running);
        BOOST_TEST_REQUIRE(r2.has_value());
        BOOST_TEST((r2->action == delete_action::deleted));
        BOOST_TEST(to_string(r2->job.status) == "cancelled");
        BOOST_TEST(env.stored_status(running) == "<none>");
        auto gone = co_await engine.async_status(running);
        BOOST_TEST_REQUIRE(!gone.has_value());
        BOOST_TEST(to_string(gone.error().code) == "not_found");
        auto r3 = co_await engine.async_delete(running);
        BOOST_TEST_REQUIRE(!r3.has_value());
        BOOST_TEST(to_string(r3.error().code) == "not_found");

        // A completed job: its file and its record go.
        const std::string done = co_await create(engine, R"({"filters": {"id": {"lte": 5}}})");
        co_await wait_for_status(engine, done, job_status::completed);
        BOOST_TEST_REQUIRE(fs::exists(env.dir / (done + ".csv")));
        env.touch(done + ".3.csv.part"); // a leftover of an older lease goes too
        auto d = co_await engine.async_delete(done);
        BOOST_TEST_REQUIRE(d.has_value());
        BOOST_TEST((d->action == delete_action::deleted));
        BOOST_TEST(to_string(d->job.status) == "completed");
        BOOST_TEST(!fs::exists(env.dir / (done + ".csv")));
        BOOST_TEST(env.part_files(done).empty());
        BOOST_TEST(env.stored_status(done) == "<none>");
        co_await wait_for_status(engine, done, std::nullopt);

        // Failed and expired jobs are deleted alike.
        for (const std::string status : {"failed", "expired"}) {
            const std::string id = env.insert_job(status, "t", "now()");
            auto e = co_await engine.async_delete(id);
            BOOST_TEST_CONTEXT(status) {
                BOOST_TEST_REQUIRE(e.has_value());
                BOOST_TEST((e->action == delete_action::deleted));
                BOOST_TEST(to_string(e->job.status) == status);
                BOOST_TEST(env.stored_status(id) == "<none>");
            }
        }
        auto malformed = co_await engine.async_delete("not-a-uuid");
        BOOST_TEST_REQUIRE(!malformed.has_value());
        BOOST_TEST(to_string(malformed.error().code) == "invalid_request");
    });
}

BOOST_AUTO_TEST_SUITE_END()
