#include "export/snapshot_session.hpp"

#include "snapshot/snapshot_sql.hpp"
#include "pacing/replica_lag.hpp"
#include "protection/replica_gate.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

using steady = std::chrono::steady_clock;

std::string hours_minutes(std::chrono::milliseconds d) {
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(d).count();
    if (minutes < 1)
        return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
    return std::to_string(minutes / 60) + "h" + std::to_string(minutes % 60) + "m";
}

void throw_if_too_old(const engine_state& state, job_context& job) {
    const auto held = steady::now() - job.snapshot.held_since;
    if (!snapshot_too_old(held, state.config.max_snapshot_age))
        return;
    job.snapshot.release(); // vacuum may go on at once
    throw snapshot_too_old_error(
        std::string(snapshot_too_old_code) + ": the export's snapshot was held for " +
        hours_minutes(std::chrono::duration_cast<std::chrono::milliseconds>(held)) +
        ", longer than --max-snapshot-age (" + hours_minutes(state.config.max_snapshot_age) +
        "): a held snapshot holds back vacuum on the whole cluster; export fewer rows (filters, more "
        "parallelism), or ask the operator for a longer limit");
}

// The snapshot the facts statement describes (snapshot_facts_sql).
recorded_snapshot read_snapshot(const PGresult* r) {
    recorded_snapshot s;
    s.id = get_text(r, 0, 0).value_or("");
    const auto current = parse_pg_snapshot(get_text(r, 0, 1).value_or(""));
    const auto lsn = parse_lsn(get_text(r, 0, 3).value_or(""));
    if (s.id.empty() || !current || !lsn)
        throw std::runtime_error("the database described its snapshot in an unexpected form");
    s.xmin = current->xmin;
    s.xmax = current->xmax;
    s.xip = current->xip;
    s.taken_at_us = get_int64(r, 0, 2).value_or(0);
    s.lsn = *lsn;
    s.standby = get_text(r, 0, 4) == std::optional<std::string>("t");
    s.system_id = get_text(r, 0, 5);
    s.end = get_int64(r, 0, 6);
    return s;
}

// The key ranges the file holds (what a checkpoint vouches for), each with its rows: one stream's keys up
// to its last; each slice's from its lower bound to its last key, or to its upper bound once done (its
// last chunk came back short: nothing else was there).
struct written_range {
    std::optional<std::int64_t> after;
    std::int64_t upper = 0;
    std::int64_t rows = 0;
    std::string name;
};

std::vector<written_range> written_ranges(const job_context& job) {
    std::vector<written_range> ranges;
    if (!job.parallel()) {
        if (job.progress.last_id)
            ranges.push_back({std::nullopt, *job.progress.last_id, job.progress.rows,
                              "keys up to " + std::to_string(*job.progress.last_id)});
        return ranges;
    }
    for (std::size_t k = 0; k < job.slices.held.size(); ++k) {
        const slice_state& s = job.slices.held[k];
        const std::optional<std::int64_t> upper = s.done ? std::optional(s.bounds.upper) : s.last;
        if (!upper)
            continue;
        std::string name = "slice " + std::to_string(k + 1) + " (keys ";
        name += s.bounds.after ? "above " + std::to_string(*s.bounds.after) + " " : "";
        name += "up to " + std::to_string(*upper) + ")";
        ranges.push_back({s.bounds.after, *upper, s.rows, std::move(name)});
    }
    return ranges;
}

// Asks the database, in the new snapshot's transaction on `session`, what it holds of every range written.
asio::awaitable<snapshot_check> check_written(async_connection& session, const job_context& job,
                                              const table_schema& schema, const recorded_snapshot& now,
                                              std::uint64_t lsn_before,
                                              const std::optional<recorded_snapshot>& recorded) {
    snapshot_check check;
    check.system_id = now.system_id;
    check.lsn_before = lsn_before;
    check.xmax = now.xmax;
    const auto ranges = written_ranges(job);
    for (const auto& r : ranges)
        check.prefixes.push_back({r.name, r.rows, 0, 0});
    if (ranges.empty() || !recorded)
        co_return check; // decided without the counts
    result_ptr kind = co_await session.async_query(relation_has_xmin_sql(schema));
    check.has_xmin = get_text(kind.get(), 0, 0) == std::optional<std::string>("t");
    if (!check.has_xmin)
        co_return check;
    const export_request& request = job.job.info.request;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        result_ptr counts =
            co_await session.async_query(prefix_check_sql(schema, request, ranges[i].after, ranges[i].upper, recorded->xmin));
        check.prefixes[i].visible = get_int64(counts.get(), 0, 0).value_or(0);
        check.prefixes[i].changed = get_int64(counts.get(), 0, 1).value_or(0);
        if (check.prefixes[i].changed > 0 || check.prefixes[i].visible != check.prefixes[i].written)
            break; // decided: the rest need not be read
    }
    co_return check;
}

// Starts the job over under the new snapshot: from its first row, every slice from its lower bound.
void start_over(job_context& job) {
    if (!job.parallel()) {
        job.progress.start_over();
        return;
    }
    for (slice_state& s : job.slices.held)
        s = initial_states({s.bounds}).front();
}

// The job's end under the snapshot: never below the end it had (the fixed end taken at creation, or an
// earlier snapshot's), up to the snapshot's highest key, so that the file is what one COPY at the snapshot
// writes. A parallel job's last slice takes the rows above its bound (and is not done any more when there
// are some: under this snapshot its range is checked to hold no more rows than written).
void extend_end(job_context& job, const recorded_snapshot& s) {
    const auto end = std::max(job.job.key_upper_bound, s.end);
    job.job.key_upper_bound = end;
    if (!job.parallel() || !end)
        return;
    slice_state& last = job.slices.held.back();
    if (*end > last.bounds.upper) {
        last.bounds.upper = *end;
        last.done = false;
    }
}

} // namespace

asio::awaitable<void> async_hold_snapshot(engine_state& state, job_context& job) {
    if (job.job.info.request.consistency != export_consistency::snapshot)
        co_return;
    if (job.snapshot.held()) {
        throw_if_too_old(state, job);
        co_return;
    }
    job.snapshot.release();
    const table_schema* schema = state.find_schema(job.job.table);
    if (!schema) // claims take only jobs of this instance's tables
        throw std::runtime_error("this instance does not serve the job's table " + job.job.table);
    job.stop.throw_if_requested();

    auto session = std::make_unique<async_connection>(state.executor);
    const std::string& url = state.config.replica_url ? *state.config.replica_url : state.config.database_url;
    co_await session->async_connect(url, state.config.statement_timeout, state.config.connect_timeout);
    // On a standby: a snapshot that holds every row committed before the job was created.
    co_await async_wait_for_replica(state, job, *session);
    result_ptr idle = co_await session->async_query(
        "SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'idle_in_transaction_session_timeout'");
    const auto keepalive =
        snapshot_keepalive_interval(std::chrono::milliseconds(get_int64(idle.get(), 0, 0).value_or(0)));
    // Read before the snapshot is taken: the new snapshot holds at least what this position holds.
    result_ptr before = co_await session->async_query(wal_position_sql());
    const auto lsn_before = parse_lsn(get_text(before.get(), 0, 0).value_or(""));
    if (!lsn_before)
        throw std::runtime_error("the database answered no WAL position");
    co_await session->async_exec(hold_begin_sql(*schema));
    result_ptr facts = co_await session->async_query(snapshot_facts_sql(*schema));
    recorded_snapshot taken = read_snapshot(facts.get());

    const std::optional<recorded_snapshot> recorded = job.snapshot.recorded;
    const auto check_start = steady::now();
    const snapshot_check check = co_await check_written(*session, job, *schema, taken, *lsn_before, recorded);
    const double check_seconds = std::chrono::duration<double>(steady::now() - check_start).count();
    const snapshot_resume_decision decision = decide_snapshot_resume(recorded, check);
    const bool checked = recorded && !check.prefixes.empty();
    int restarts = job.job.info.snapshot_restarts;
    if (checked) {
        ++state.stats.snapshot_checks;
        state.stats.snapshot_check_seconds += check_seconds;
    }
    if (decision.action == snapshot_resume_action::restart) {
        ++restarts;
        ++state.stats.snapshot_restarts;
        log_event("warning", "job_snapshot_restarted",
                  {{"job", job.id()},
                   {"reason", decision.reason},
                   {"snapshot_restarts", restarts},
                   {"check_seconds", check_seconds}});
        start_over(job);
    } else if (checked) {
        ++state.stats.snapshot_resumes;
        log_event("info", "job_snapshot_resumed",
                  {{"job", job.id()}, {"reason", decision.reason}, {"check_seconds", check_seconds}});
    }
    // Why the job holds this snapshot and not the one before it (none for its first): for status.
    if (recorded || decision.action == snapshot_resume_action::restart)
        taken.reason = std::string(decision.action == snapshot_resume_action::restart ? "started over" : "went on") +
                       " under a new snapshot, the one before lost: " + decision.reason;
    extend_end(job, taken);

    // Recorded before any chunk reads under it, with the checkpoint it was checked against (or the start,
    // after a restart): a later resume compares with this snapshot only what was written under it.
    const slice_state progress{{std::nullopt, job.job.key_upper_bound.value_or(0)},
                               job.progress.last_id, job.progress.rows, job.progress.bytes, false};
    auto record = [taken, restarts, end = job.job.key_upper_bound, progress,
                   slices = job.parallel() ? job.slices.held : std::vector<slice_state>{},
                   attempts = job.progress.attempts](job_repository& r, const job_fence::lease_name& l) {
        return r.record_snapshot(l.id, l.owner, l.token, taken, restarts, end, progress, slices, attempts);
    };
    if (!co_await job.fence.async_write(std::move(record))) {
        job.stop.throw_if_requested();
        throw boost::system::system_error(asio::error::operation_aborted);
    }
    job.snapshot.session = std::move(session);
    job.snapshot.recorded = taken;
    job.snapshot.held_since = steady::now();
    job.snapshot.keepalive = keepalive;
    job.job.snapshot = taken;
    job.job.info.snapshot_id = taken.id;
    job.job.info.snapshot_at = timestamp(
        std::chrono::duration_cast<timestamp::duration>(std::chrono::microseconds(taken.taken_at_us)));
    job.job.info.snapshot_restarts = restarts;
    job.job.info.snapshot_reason = taken.reason;
    if (job.parallel()) {
        job.job.slices = job.slices.held;
        job.slices.sent = job.slices.held;
    }
    log_event("info", "job_snapshot_taken",
              {{"job", job.id()},
               {"snapshot", taken.id},
               {"xmin", taken.xmin},
               {"standby", taken.standby},
               {"end", taken.end ? boost::json::value(*taken.end) : boost::json::value(nullptr)}});
    state.progress->notify(job.id());
}

void release_lost_snapshot(job_context& job, const std::string& reason) {
    if (job.snapshot.held())
        log_event("warning", "job_snapshot_lost", {{"job", job.id()}, {"reason", reason}});
    job.snapshot.release();
}

asio::awaitable<void> async_keep_snapshot(engine_state& state, job_context& job) {
    asio::steady_timer timer(state.executor);
    for (;;) {
        throw_if_too_old(state, job);
        const auto max = state.config.max_snapshot_age;
        auto next = steady::now() + job.snapshot.keepalive;
        if (max > std::chrono::milliseconds::zero())
            next = std::min(next, job.snapshot.held_since + max + std::chrono::milliseconds(1));
        timer.expires_at(next);
        co_await timer.async_wait(asio::use_awaitable); // a cancel ends the keeper here
        if (!job.snapshot.held())
            throw snapshot_lost_error("the session that holds the export's snapshot was closed");
        std::string lost;
        try {
            co_await job.snapshot.session->async_exec("SELECT 1");
            continue;
        } catch (const pg_error& e) {
            lost = e.what(); // ended by the server (terminated, restarted), or the connection cut
        } catch (...) {
            // Cancelled with its statement in flight: no chunk may import it any more either.
            job.snapshot.release();
            throw;
        }
        release_lost_snapshot(job, lost);
        throw snapshot_lost_error("the session that held the export's snapshot ended (" + lost +
                                  "): the next attempt takes a new snapshot and checks the rows written");
    }
}

} // namespace pgexport::engine::detail
