#include "queue/job_runner.hpp"

#include "export/export_attempt.hpp"
#include "export/snapshot_session.hpp"
#include "policy/job_policy.hpp"
#include "pacing/replica_lag.hpp"
#include "storage/export_storage.hpp"
#include "util/event.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>

#include <cerrno>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

using clock = lease_tracker::clock;

// One renewal, a task of its own: its answer feeds the lease (a lost or cancelled lease stops the job).
asio::awaitable<void> renew(std::shared_ptr<job_context> job) {
    try {
        co_await job->fence.async_renew();
    } catch (const std::exception& e) {
        // The database is away from here: the keeper watches the deadline meanwhile.
        log_event("info", "lease_renewal_failed", {{"job", job->id()}, {"error", e.what()}});
    }
}

// Keeps the lease while the job runs: a renewal every renewal_interval (a cancel sent to any instance
// stops the job within about a second, and a takeover is noticed as soon), and the deadline watched:
// past the lease's work deadline unconfirmed, the job's work is stopped until a renewal proves the lease.
// Runs until the job's attempts are over (the parallel group cancels it), then waits for the renewal in
// flight, so that nothing renews the lease after the job gave it back.
asio::awaitable<void> keep_lease(engine_state& state, std::shared_ptr<job_context> job) {
    co_await asio::this_coro::throw_if_cancelled(false);
    // The group's cancel reaches the timer only while the keeper waits on it; one that comes while the
    // timer's completion is queued is kept in this state, which the loop reads after every wait (without
    // it, the keeper renewed on and the job's run never ended: shutdown hung under load).
    const asio::cancellation_state cancel = co_await asio::this_coro::cancellation_state;
    // A keeper that fails (a bug) must not leave the job running unrenewed: it stops as at a shutdown.
    struct stop_unless_done {
        job_context& job;
        bool done = false;
        ~stop_unless_done() {
            if (!done)
                job.stop.request(stop_cause::shutdown);
        }
    } guard{*job};
    asio::steady_timer timer(state.executor);
    std::shared_ptr<event> in_flight;
    auto next_renewal = clock::now() + job->fence.tracker().renewal_interval();
    while (cancel.cancelled() == asio::cancellation_type::none) {
        const auto now = clock::now();
        if (now >= next_renewal && (!in_flight || in_flight->is_set())) {
            in_flight = std::make_shared<event>(state.executor);
            asio::co_spawn(state.executor, renew(job), [done = in_flight, id = job->id()](std::exception_ptr e) {
                log_if_failed(e, "lease_renewal_crashed", {{"job", id}});
                done->set();
            });
            next_renewal = now + job->fence.tracker().renewal_interval();
        }
        const auto deadline = job->fence.tracker().work_deadline();
        if (now >= deadline && !job->stop.requested()) {
            log_event("warning", "job_suspended",
                      {{"job", job->id()},
                       {"token", job->token()},
                       {"why", "the job store has not confirmed the lease for "
                               + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    now - (job->fence.tracker().confirmed_until() -
                                                           std::chrono::milliseconds(state.config.lease)))
                                                    .count()) +
                               " ms: its file work stops before the lease can run out"}});
            job->stop.request(stop_cause::unproven);
        }
        timer.expires_at(deadline > now ? std::min(next_renewal, deadline) : next_renewal);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted)
            break;
    }
    guard.done = true;
    if (in_flight && !in_flight->is_set())
        co_await in_flight->async_wait();
}

// A wait that a stop of the job cancels.
asio::awaitable<void> async_pause(engine_state& state, job_context& job, std::chrono::milliseconds delay) {
    asio::steady_timer timer(state.executor, delay);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::bind_cancellation_slot(job.stop.slot(), asio::redirect_error(asio::use_awaitable, ec)));
}

// While the lease is unproven: waits until a renewal proves it again (the job goes on) or a final stop
// comes (the job ends).
asio::awaitable<void> wait_until_proven(engine_state& state, job_context& job) {
    while (job.stop.cause() == stop_cause::unproven) {
        if (job.fence.tracker().work_deadline() > clock::now()) {
            job.stop.resume();
            log_event("info", "job_resumed", {{"job", job.id()}, {"token", job.token()}});
            co_return;
        }
        co_await async_pause(state, job, std::chrono::milliseconds(100));
    }
}

// The failure, recorded under the lease; only then are the job's files and upload thrown away. The
// database may be away: keep trying while it is, so the job ends failed rather than stuck running.
asio::awaitable<void> fail_job(engine_state& state, job_context& job, const std::string& raw_reason,
                               const std::optional<std::string>& code) {
    // Error texts can quote bytes from anywhere (a file name, a server message): the record takes UTF-8.
    const std::string reason = to_valid_utf8(raw_reason);
    log_event("error", "job_failed",
              {{"job", job.id()}, {"error", reason}, {"code", code ? boost::json::value(*code) : nullptr}});
    for (int attempt = 0; !job.stop.final(); ++attempt) {
        try {
            auto fail = [reason, code, attempts = job.progress.attempts](job_repository& r,
                                                                         const job_fence::lease_name& l) {
                return r.fail(l.id, l.owner, l.token, reason, attempts, code);
            };
            if (!co_await job.fence.async_write(std::move(fail)))
                co_return; // cancelled or taken over meanwhile: the epilogue does what that asks
            job.job.info.status = job_status::failed;
            job.job.info.error_code = code;
            auto clean = [&files = state.files, id = job.id()] { files.remove_partials(id); };
            co_await async_offload(state.file_pool, std::move(clean));
            co_await state.storage->async_discard(job);
            co_return;
        } catch (const unavailable_error& e) {
            log_event("warning", "job_fail_unrecorded", {{"job", job.id()}, {"error", e.what()}});
        } catch (const std::exception& e) {
            log_event("error", "job_fail_unrecorded", {{"job", job.id()}, {"error", to_valid_utf8(e.what())}});
            co_return;
        }
        co_await async_pause(state, job, std::min(state.config.retry_max_delay,
                                                  std::chrono::milliseconds(500 << std::min(attempt, 6))));
    }
}

// What a failed attempt was, and what kind of failure.
struct attempt_failure {
    std::string text;
    failure_class kind = failure_class::permanent;
    bool own_file_missing = false; // ENOENT on a file of this lease's: removed by a newer lease, or by hand
    std::optional<std::string> code{}; // the job's error code when it fails of this
};

attempt_failure classify(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const pg_error& x) {
        return {std::string("database error: ") + x.what(), classify_sqlstate(x.sqlstate())};
    } catch (const unavailable_error& x) {
        return {x.what(), failure_class::unavailable};
    } catch (const boost::system::system_error& x) {
        return {x.what(), failure_class::unavailable}; // a socket: the database's connection
    } catch (const snapshot_too_old_error& x) {
        return {x.what(), failure_class::permanent, false, std::string(snapshot_too_old_code)};
    } catch (const snapshot_lost_error& x) {
        // The next attempt takes a new snapshot and checks the rows written against the recorded one.
        return {x.what(), failure_class::transient};
    } catch (const std::system_error& x) {
        // The disk: full, too large, not writable, out of descriptors, a file gone.
        return {x.what(), classify_errno(x.code().value()), x.code().value() == ENOENT};
    } catch (const std::exception& x) {
        return {x.what()};
    } catch (...) {
        return {"unknown exception"};
    }
}

// Attempts until the job ends. Every step that needs the database is inside the loop: while the
// database is away the job waits and tries again, however long that takes; it is never dropped.
asio::awaitable<void> run_attempts(engine_state& state, std::shared_ptr<job_context> ctx) {
    co_await asio::this_coro::throw_if_cancelled(false);
    job_context& job = *ctx;
    const retry_policy policy{state.config.retry_base_delay, state.config.retry_max_delay, state.config.max_attempts};
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    for (;;) {
        co_await wait_until_proven(state, job);
        if (job.stop.final())
            co_return;
        std::exception_ptr error;
        try {
            // The attempt is the job's work: bound to its stop.
            co_await asio::co_spawn(state.executor, export_attempt(state, ctx),
                                    asio::bind_cancellation_slot(job.stop.slot(), asio::use_awaitable));
            co_return;
        } catch (...) {
            error = std::current_exception();
        }
        if (job.stop.requested())
            continue; // a stop, not a failure: the loop's head waits for the lease or ends the job
        attempt_failure failure = classify(error);
        if (failure.own_file_missing) {
            // A file of this lease is gone: a newer lease removed it (then this one is lost), or someone
            // did by hand. Ask the job store; a held lease starts over from what the disk still has.
            bool held = false;
            try {
                held = co_await job.fence.async_renew();
            } catch (const std::exception&) {
                failure.kind = failure_class::unavailable;
            }
            if (!held && job.stop.requested())
                continue;
            if (held)
                failure.kind = failure_class::transient;
        }
        ++job.progress.attempts;
        ++job.progress.consecutive_failures;
        const auto next = decide_retry(policy, failure.kind, job.progress.consecutive_failures, jitter(state.random));
        if (next.give_up) {
            if (failure.kind == failure_class::transient)
                failure.text = "gave up after " + std::to_string(job.progress.consecutive_failures) +
                               " attempts; last error: " + failure.text;
            co_await fail_job(state, job, failure.text, failure.code);
            co_return;
        }
        ++state.stats.retries;
        log_event(failure.kind == failure_class::unavailable ? "info" : "warning", "job_retry",
                  {{"job", job.id()},
                   {"attempt", job.progress.attempts},
                   {"class", to_string(failure.kind)},
                   {"delay_ms", next.delay.count()},
                   {"error", failure.text}});
        // The standby away: the job waits for it as it would for the primary, and says so.
        // It stays shown through the next attempt's connect, until that connect reaches the standby.
        const auto replica_down = std::exchange(job.waits.replica_down, std::nullopt);
        const bool waiting_for_replica = replica_down && failure.kind == failure_class::unavailable;
        if (waiting_for_replica) {
            job.waits.waiting = replica_unreachable_reason(*replica_down);
            job.waits.replica_unreachable_shown = true;
        } else if (std::exchange(job.waits.replica_unreachable_shown, false)) {
            job.waits.waiting.reset();
        }
        const auto wait_start = std::chrono::steady_clock::now();
        co_await async_pause(state, job, next.delay);
        if (waiting_for_replica) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
            job.waits.throttled.replica += seconds;
            state.stats.replica_wait_seconds += seconds;
        }
    }
}

// After the attempts: what the stop's cause asks.
asio::awaitable<void> leave(engine_state& state, job_context& job) {
    switch (job.stop.cause()) {
    case stop_cause::cancelled: {
        // The record says cancelled (final): nobody writes the job's files any more.
        auto clean = [&files = state.files, id = job.id()] { files.remove_partials(id); };
        co_await async_offload(state.file_pool, std::move(clean));
        co_await state.storage->async_discard(job);
        job.job.info.status = job_status::cancelled;
        log_event("info", "job_cancelled", {{"job", job.id()}});
        break;
    }
    case stop_cause::lease_lost:
        log_event("warning", "job_left", {{"job", job.id()}, {"why", "another instance holds its lease now"}});
        break;
    case stop_cause::shutdown:
        // The job stays running; ending the lease now lets another instance take it at once.
        try {
            auto release = [id = job.id(), owner = job.fence.owner(), token = job.token()](job_repository& r) {
                r.expire(id, owner, token);
            };
            co_await state.on_jobs(std::move(release));
        } catch (const std::exception&) {
            // The lease runs out by itself.
        }
        log_event("info", "job_stopped", {{"job", job.id()}, {"rows", job.progress.rows}});
        break;
    case stop_cause::none:
    case stop_cause::unproven:
        break;
    }
}

} // namespace

asio::awaitable<void> run_job(engine_state& state, std::shared_ptr<job_context> job) {
    log_event("info", "job_started", {{"job", job->id()}, {"resumed_at_row", job->progress.rows}, {"token", job->token()}});
    // The keeper and the attempts as the job's two children: the attempts ending cancels the keeper.
    auto [order, keeper_error, attempts_error] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(state.executor, keep_lease(state, job), asio::deferred),
            asio::co_spawn(state.executor, run_attempts(state, job), asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)order;
    log_if_failed(keeper_error, "lease_keeper_crashed", {{"job", job->id()}});
    log_if_failed(attempts_error, "job_crashed", {{"job", job->id()}});
    // A snapshot job's held snapshot ends with the job here, whatever the way out.
    job->snapshot.release();
    co_await leave(state, *job);
}

} // namespace pgexport::engine::detail
