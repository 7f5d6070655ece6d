#include "protection/replica_gate.hpp"

#include "policy/job_policy.hpp"
#include "pacing/replica_lag.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

// pg_is_wal_replay_paused() fails on a server not in recovery: asked only of one that is.
constexpr const char* replica_facts_sql =
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END";

replica_facts read_facts(const PGresult* r) {
    replica_facts facts;
    facts.in_recovery = get_text(r, 0, 0) == std::optional<std::string>("t");
    if (auto lsn = get_text(r, 0, 1))
        facts.replayed = parse_lsn(*lsn);
    facts.replay_paused = get_text(r, 0, 2) == std::optional<std::string>("t");
    return facts;
}

} // namespace

asio::awaitable<void> async_wait_for_replica(engine_state& state, job_context& job,
                                             async_connection& connection) {
    if (!state.config.replica_url)
        co_return;
    if (!job.job.wal_lsn) {
        auto now = [](job_repository& r) { return r.current_wal_lsn(); };
        job.job.wal_lsn = co_await state.on_jobs(std::move(now));
        log_event("info", "replica_position_taken", {{"job", job.id()}, {"wal_lsn", *job.job.wal_lsn}});
    }
    const auto target = parse_lsn(*job.job.wal_lsn);
    if (!target)
        throw std::runtime_error("the job's recorded WAL position \"" + *job.job.wal_lsn +
                                 "\" is unreadable");
    using clock = std::chrono::steady_clock;
    const retry_policy backoff{std::chrono::milliseconds(250), std::chrono::seconds(5), 0};
    const auto started = clock::now();
    bool waited = false;
    for (int waits = 1;; ++waits) {
        result_ptr r = co_await connection.async_query(replica_facts_sql);
        const replica_verdict verdict = judge_replica(*target, read_facts(r.get()));
        if (verdict.ready)
            break;
        if (!waited)
            log_event("warning", "job_waiting_for_replica",
                      {{"job", job.id()}, {"wal_lsn", *job.job.wal_lsn}, {"reason", verdict.waiting}});
        waited = true;
        job.waits.waiting = verdict.waiting;
        if (job.stop.requested()) { // a stop that came while nothing could be cancelled
            job.waits.waiting.reset();
            job.stop.throw_if_requested();
        }
        const auto before = clock::now();
        asio::steady_timer timer(state.executor, decide_retry(backoff, failure_class::unavailable, waits).delay);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        const double seconds = std::chrono::duration<double>(clock::now() - before).count();
        job.waits.throttled.replica += seconds;
        state.stats.replica_wait_seconds += seconds;
        if (job.stop.requested()) {
            job.waits.waiting.reset();
            job.stop.throw_if_requested();
        }
    }
    if (waited) {
        job.waits.waiting.reset();
        log_event("info", "replica_caught_up",
                  {{"job", job.id()},
                   {"waited_seconds", std::chrono::duration<double>(clock::now() - started).count()}});
    }
}

asio::awaitable<void> async_check_replica(engine_state& state) {
    if (!state.config.replica_url)
        co_return;
    auto check = [&state](table_catalog& primary) -> std::optional<std::string> {
        table_catalog replica(*state.config.replica_url, std::chrono::seconds(30),
                              state.config.connect_timeout);
        try {
            if (!replica.in_recovery())
                throw std::runtime_error(
                    "--replica names a server that is not in recovery (pg_is_in_recovery() is false); it "
                    "must be a"
                    " streaming standby of --database (pg_basebackup -R), or leave --replica out");
            const auto ours = primary.system_identifier();
            const auto theirs = replica.system_identifier();
            if (ours && theirs && *ours != *theirs)
                throw std::runtime_error("--replica is a standby of another cluster (system identifier " +
                                         *theirs + ", --database's is " + *ours +
                                         "); it must be a standby of --database");
            for (const table_schema& schema : state.schemas) {
                table_schema there;
                try {
                    there = replica.load_schema(schema.table, schema.key);
                } catch (const pg_error&) {
                    throw;
                } catch (const std::runtime_error& e) {
                    throw std::runtime_error(std::string("on --replica: ") + e.what());
                }
                bool same = there.columns.size() == schema.columns.size();
                for (std::size_t i = 0; same && i < schema.columns.size(); ++i)
                    same = there.columns[i].name == schema.columns[i].name &&
                           there.columns[i].type == schema.columns[i].type;
                if (!same)
                    throw std::runtime_error(
                        "on --replica, " + schema.table +
                        " has other columns than on --database: is it a standby of another"
                        " database, or is a migration still to replay?");
            }
        } catch (const pg_error& e) {
            if (e.transient())
                return std::string(e.what());
            throw std::runtime_error(std::string("--replica: ") + e.what());
        }
        return std::nullopt;
    };
    if (auto unreachable = co_await state.on_catalog(std::move(check)))
        log_event("warning", "replica_unreachable",
                  {{"error", *unreachable},
                   {"why", "the standby is not checked now; jobs wait for it before they read rows"}});
    else
        log_event("info", "replica_checked", {{"replica", "in recovery, same tables"}});
}

} // namespace pgexport::engine::detail
