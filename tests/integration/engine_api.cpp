// The export engine's start-up checks and its answers about jobs, against a real PostgreSQL: the data
// directory's modes and the free-space guard, a key that no unique index covers refused, owners renamed at
// start, and every field of a finished job's status and listing (lookups by a malformed, unknown or
// upper-case id and by another owner).
//
// Each test has a scratch database and a data directory of its own (tests/support/engine_fixture.hpp).

#include "engine_fixture.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <thread>
#include <vector>

using namespace pgexport::engine;
using namespace pgexport::test;

BOOST_AUTO_TEST_SUITE(engine_api)

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

BOOST_AUTO_TEST_SUITE_END()

// The chunks' sessions outlive their jobs (store/warm_sessions.hpp): the second job of an engine runs its
// COPYs on the backend the first one left idle, a session ended by the server meanwhile is not used (the
// job connects anew and completes), shutdown closes what waits, and warm_session_idle 0 keeps nothing.
BOOST_AUTO_TEST_SUITE(warm_sessions)

BOOST_AUTO_TEST_CASE(the_next_job_reuses_the_session_and_shutdown_closes_it) {
    test_env env(standard_table + standard_rows(300));
    const std::string select = "SELECT " + all_columns + " FROM t ORDER BY id";
    const std::string idle_copies = "SELECT pid::text FROM pg_stat_activity WHERE application_name = 'pgexport'"
                                    " AND datname = current_database() AND state = 'idle' AND query LIKE 'COPY%'";
    for (const auto idle : {std::chrono::milliseconds(30000), std::chrono::milliseconds(0)}) {
        BOOST_TEST_CONTEXT("warm_session_idle " << idle.count() << " ms") {
            auto config = env.config(50);
            config.warm_session_idle = idle;
            asio::io_context io;
            export_engine engine(io.get_executor(), config);
            std::vector<std::vector<std::string>> sessions; // the idle COPY sessions after each job
            run_engine(io, engine, [&]() -> asio::awaitable<void> {
                for (int i = 0; i < 3; ++i) {
                    auto id = co_await engine.async_create(make_request("{}"));
                    BOOST_TEST_REQUIRE(id.has_value());
                    const job_info done = co_await wait_until_done(engine, *id);
                    check_export(env, done, select);
                    sessions.push_back(env.db.query(idle_copies));
                    if (i == 1 && !sessions.back().empty()) // the server ends it: the third job connects anew
                        env.db.query("SELECT pg_terminate_backend(" + sessions.back().front() + ")");
                }
            });
            BOOST_TEST_REQUIRE(sessions.size() == 3u);
            if (idle.count() > 0) {
                BOOST_TEST_REQUIRE(sessions[0].size() == 1u);
                BOOST_TEST(sessions[1] == sessions[0], boost::test_tools::per_element()); // the same backend
                BOOST_TEST_REQUIRE(sessions[2].size() == 1u);
                BOOST_TEST(sessions[2][0] != sessions[1][0]); // a new one after the terminated one
            } else {
                for (const auto& s : sessions)
                    BOOST_TEST(s.empty());
            }
            // Shut down: nothing of the engine's is left at the database (a backend ends soon after its
            // client closes; wait for that, not for a fixed time).
            const auto deadline = clock_type::now() + job_timeout;
            while (!env.db.query(idle_copies).empty() && clock_type::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            BOOST_TEST(env.db.query(idle_copies).empty());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
