// The job queue of the export engine against a real PostgreSQL: two instances sharing one queue (each job
// claimed once), jobs that belong to their table, cancellation of running, queued and ended jobs (and no
// cancelled job taken up again after a restart), max_concurrent (never two running, FIFO), max_queued, and
// per-key quotas kept exactly while three instances create jobs at once. Finished files are checked against
// PostgreSQL's COPY byte for byte.
//
// Each test has a scratch database and a data directory of its own (tests/support/engine_fixture.hpp).

#include "engine_fixture.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/request.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace pgexport::engine;
using namespace pgexport::test;

BOOST_AUTO_TEST_SUITE(engine_queue)

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
    BOOST_TEST(env.names().size() == 1u);
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

BOOST_AUTO_TEST_SUITE_END()
