#include "queue/job_runner.hpp"

#include "export/export_attempt.hpp"
#include "policy/job_policy.hpp"
#include "policy/replica_lag.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

// Keeps the lease while the job runs (renewal_interval: a cancel sent to any instance stops the job
// within about a second even while a chunk is slow, and a takeover is noticed as soon). Says in the log
// when the lease turns unsure (the job store has not confirmed it for its length) and when it is
// confirmed again.
asio::awaitable<void> keep_lease(engine_state& state, std::shared_ptr<running_job> job,
                                 std::shared_ptr<event> finished) {
    using clock = lease_tracker::clock;
    job->renewal = std::make_unique<asio::steady_timer>(state.executor);
    bool unsure = false;
    while (!finished->is_set()) {
        job->renewal->expires_after(job->lease.renewal_interval());
        boost::system::error_code ec;
        co_await job->renewal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (finished->is_set())
            break;
        const auto sent = clock::now();
        try {
            auto renew = [id = job->id(), owner = state.config.instance_id, token = job->token()](job_repository& r) {
                return r.renew(id, owner, token);
            };
            const lease_state s = co_await state.on_jobs(std::move(renew));
            if (finished->is_set())
                break;
            if (!job->lease_answered(s, sent)) {
                log_event("info", s == lease_state::lost ? "lease_lost" : "job_cancel_noticed",
                          {{"job", job->id()}, {"token", job->token()}});
                job->interrupt();
                break;
            }
        } catch (const std::exception& e) {
            // The database is away from here: the job's own statements wait for it too. Once it answers,
            // the next renewal tells whether the lease survived.
            log_event("info", "lease_renewal_failed", {{"job", job->id()}, {"error", e.what()}});
        }
        const bool now_unsure = job->lease.at(clock::now()) == lease_verdict::unsure;
        if (now_unsure != unsure)
            log_event(now_unsure ? "warning" : "info", now_unsure ? "lease_unsure" : "lease_confirmed",
                      {{"job", job->id()}, {"token", job->token()}});
        unsure = now_unsure;
    }
    job->renewal.reset();
}

// The failure, recorded under the lease. The database may be away: keep trying while it is, so the job
// ends failed rather than stuck running.
asio::awaitable<void> fail_job(engine_state& state, running_job& job, const std::string& raw_reason) {
    // Error texts can quote bytes from anywhere (a file name, a server message): the record takes UTF-8.
    const std::string reason = to_valid_utf8(raw_reason);
    std::error_code ec;
    fs::remove(state.part_path(job.id(), job.token()), ec);
    co_await state.storage->async_discard(job);
    log_event("error", "job_failed", {{"job", job.id()}, {"error", reason}});
    for (int attempt = 0; !job.should_stop(); ++attempt) {
        try {
            auto fail = [id = job.id(), owner = state.config.instance_id, token = job.token(), reason,
                         attempts = job.attempts](job_repository& r) { return r.fail(id, owner, token, reason, attempts); };
            co_await state.on_jobs(std::move(fail));
            job.job.info.status = job_status::failed;
            co_return;
        } catch (const unavailable_error& e) {
            log_event("warning", "job_fail_unrecorded", {{"job", job.id()}, {"error", e.what()}});
        } catch (const std::exception& e) {
            log_event("error", "job_fail_unrecorded", {{"job", job.id()}, {"error", to_valid_utf8(e.what())}});
            co_return;
        }
        asio::steady_timer t(state.executor, std::min(state.config.retry_max_delay,
                                                      std::chrono::milliseconds(500 << std::min(attempt, 6))));
        boost::system::error_code wait_ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
    }
}

// Attempts until the job ends. Every step that needs the database is inside the loop: while the
// database is away the job waits and tries again, however long that takes; it is never dropped.
asio::awaitable<void> run_attempts(engine_state& state, running_job& job) {
    const retry_policy policy{state.config.retry_base_delay, state.config.retry_max_delay,
                              state.config.max_attempts};
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    for (;;) {
        std::string failure;
        auto kind = failure_class::permanent;
        try {
            co_await export_attempt(state, job);
            co_return;
        } catch (const stop_job&) {
        } catch (const pg_error& e) {
            failure = std::string("database error: ") + e.what();
            kind = classify_sqlstate(e.sqlstate());
        } catch (const unavailable_error& e) {
            failure = e.what();
            kind = failure_class::unavailable;
        } catch (const boost::system::system_error& e) {
            failure = e.what(); // a socket: the database's connection
            kind = failure_class::unavailable;
        } catch (const std::system_error& e) {
            failure = e.what(); // the disk: full, too large, not writable, out of descriptors
            kind = classify_errno(e.code().value());
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (job.should_stop())
            co_return;
        ++job.attempts;
        ++job.consecutive_failures;
        const auto next = decide_retry(policy, kind, job.consecutive_failures, jitter(state.random));
        if (next.give_up) {
            if (kind == failure_class::transient)
                failure = "gave up after " + std::to_string(job.consecutive_failures) +
                          " attempts; last error: " + failure;
            co_await fail_job(state, job, failure);
            co_return;
        }
        ++state.stats.retries;
        log_event(kind == failure_class::unavailable ? "info" : "warning", "job_retry",
                  {{"job", job.id()},
                   {"attempt", job.attempts},
                   {"class", to_string(kind)},
                   {"delay_ms", next.delay.count()},
                   {"error", failure}});
        // The standby away: the job waits for it as it would for the primary, and says so.
        // It stays shown through the next attempt's connect, until that connect reaches the standby.
        const auto replica_down = std::exchange(job.replica_down, std::nullopt);
        if (replica_down && kind == failure_class::unavailable) {
            job.waiting = replica_unreachable_reason(*replica_down);
            job.replica_unreachable_shown = true;
        } else if (std::exchange(job.replica_unreachable_shown, false)) {
            job.waiting.reset();
        }
        const auto wait_start = std::chrono::steady_clock::now();
        job.backoff = std::make_unique<asio::steady_timer>(state.executor, next.delay);
        boost::system::error_code ec;
        co_await job.backoff->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        job.backoff.reset();
        if (replica_down && kind == failure_class::unavailable) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
            job.throttled.replica += seconds;
            state.stats.replica_wait_seconds += seconds;
        }
        if (job.should_stop())
            co_return;
    }
}

} // namespace

asio::awaitable<void> run_job(engine_state& state, std::shared_ptr<running_job> job) {
    auto finished = std::make_shared<event>(state.executor);
    auto renewal_done = std::make_shared<event>(state.executor);
    asio::co_spawn(state.executor, keep_lease(state, job, finished), [renewal_done, id = job->id()](std::exception_ptr e) {
        if (e)
            log_event("error", "lease_keeper_crashed", {{"job", id}});
        renewal_done->set();
    });
    log_event("info", "job_started", {{"job", job->id()}, {"resumed_at_row", job->rows}, {"token", job->token()}});
    try {
        co_await run_attempts(state, *job);
    } catch (const std::exception& e) {
        log_event("error", "job_crashed", {{"job", job->id()}, {"error", e.what()}});
    }
    finished->set();
    if (job->renewal)
        job->renewal->cancel();
    co_await renewal_done->async_wait();

    if (job->cancel_requested) {
        auto clean = [&state, id = job->id()] { state.remove_part_files(id); };
        co_await async_offload(state.file_pool, std::move(clean));
        co_await state.storage->async_discard(*job);
        job->job.info.status = job_status::cancelled;
        log_event("info", "job_cancelled", {{"job", job->id()}});
    } else if (job->lease_lost) {
        log_event("warning", "job_left", {{"job", job->id()}, {"why", "another instance holds its lease now"}});
    } else if (job->stop_requested) {
        // Shutting down: the job stays running; ending the lease now lets another instance take it at once.
        try {
            auto release = [id = job->id(), owner = state.config.instance_id, token = job->token()](job_repository& r) {
                r.expire(id, owner, token);
            };
            co_await state.on_jobs(std::move(release));
        } catch (const std::exception&) {
            // The lease runs out by itself.
        }
        log_event("info", "job_stopped", {{"job", job->id()}, {"rows", job->rows}});
    }
}

} // namespace pgexport::engine::detail
