#include "queue/scheduler.hpp"

#include "queue/job_runner.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

void scheduler::start() {
    stopped_ = std::make_shared<event>(state_.executor);
    listener_stopped_ = std::make_shared<event>(state_.executor);
    asio::co_spawn(state_.executor, claim_loop(), [stopped = stopped_](std::exception_ptr e) {
        log_if_failed(e, "scheduler_crashed");
        stopped->set();
    });
    asio::co_spawn(state_.executor, listen_loop(),
                   asio::bind_cancellation_slot(listener_stop_.slot(), [stopped = listener_stopped_](std::exception_ptr e) {
                       log_if_failed(e, "listener_crashed");
                       stopped->set();
                   }));
}

void scheduler::wake() {
    wake_pending_ = true;
    timer_.cancel();
}

void scheduler::launch(stored_job claimed, lease_tracker::clock::time_point claimed_at) {
    claimed.info.instance = state_.config.instance_id;
    auto job = std::make_shared<job_context>(std::move(claimed), state_.store, state_.config.instance_id,
                                             state_.config.lease, claimed_at);
    if (!state_.running.add(job)) {
        // Never: claims leave out the jobs this instance runs. Should one come, the old run ends first;
        // this claim's lease runs out unrenewed and the job is claimed again.
        log_event("error", "job_claimed_twice", {{"job", job->id()}, {"token", job->token()}});
        return;
    }
    auto ended = std::make_shared<event>(state_.executor);
    ended_[job->id()] = ended;
    state_.progress->notify(job->id());
    asio::co_spawn(state_.executor, run_job(state_, job), [this, job, ended](std::exception_ptr e) {
        log_if_failed(e, "job_crashed", {{"job", job->id()}});
        state_.running.remove(job);
        if (auto it = ended_.find(job->id()); it != ended_.end() && it->second == ended)
            ended_.erase(it);
        job_info& info = job->job.info;
        if (info.status != job_status::running) {
            info.instance.reset();
            info.rows_exported = job->progress.rows;
            info.bytes_written = job->progress.bytes;
            info.last_processed_id = job->progress.last_id;
            info.attempts = job->progress.attempts;
        }
        ended->set();
        state_.progress->notify(job->id());
        wake();
    });
}

void scheduler::stop_job(const std::string& id, stop_cause cause) {
    if (auto job = state_.running.find(id))
        job->stop.request(cause);
}

asio::awaitable<void> scheduler::claim_loop() {
    while (!state_.stopping) {
        bool claimed = false;
        if (state_.running.size() < static_cast<std::size_t>(std::max(1, state_.config.max_concurrent))) {
            try {
                auto claim = [owner = state_.config.instance_id, tables = state_.tables(),
                              storage = state_.storage_id, running = state_.running.ids()](job_repository& r) {
                    return r.claim(owner, tables, storage, running);
                };
                const auto sent = lease_tracker::clock::now();
                auto job = co_await state_.on_jobs(std::move(claim));
                if (job && state_.stopping) {
                    auto release = [id = job->info.id, owner = state_.config.instance_id,
                                    token = job->lease_token](job_repository& r) { r.expire(id, owner, token); };
                    co_await state_.on_jobs(std::move(release));
                } else if (job) {
                    log_event("info", "job_claimed", {{"job", job->info.id}, {"token", job->lease_token}});
                    launch(std::move(*job), sent);
                    claimed = true;
                }
            } catch (const unavailable_error&) {
                // Polled again below; the database being away is /healthz's to report.
            } catch (const std::exception& e) {
                log_event("error", "claim_failed", {{"error", e.what()}});
            }
        }
        if (claimed)
            continue;
        if (wake_pending_) {
            wake_pending_ = false;
            continue;
        }
        state_.rows_sessions.close_idle(); // warm sessions idle for too long (store/warm_sessions.hpp)
        timer_.expires_after(state_.config.poll_interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        wake_pending_ = false;
    }
}

asio::awaitable<void> scheduler::listen_loop() {
    // Other instances' new jobs arrive as notifications: an idle instance claims them at once instead of
    // at its next poll. Without the listener (the database away), polling alone finds them. Changes of
    // a job's state, from any instance, wake its followers here (event streams of queued jobs need no
    // polling), and new notifications in the outbox the webhook service. Bound to listener_stop_:
    // async_stop cancels whatever it waits for.
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!state_.stopping) {
        try {
            async_connection connection(state_.executor);
            co_await connection.async_connect(state_.config.database_url, std::chrono::milliseconds(0),
                                              state_.config.connect_timeout);
            co_await connection.async_exec(std::string("LISTEN pgexport_jobs; LISTEN ") + job_state_channel +
                                           "; LISTEN " + webhook_channel);
            // Anything queued, any change of state and any notification due while we were not listening.
            wake();
            state_.progress->notify_all();
            if (state_.webhooks_due)
                state_.webhooks_due();
            while (!state_.stopping) {
                const auto notifications = co_await connection.async_wait_notification();
                for (const auto& n : notifications)
                    if (n.channel == job_state_channel)
                        state_.progress->notify(n.payload); // a job's followers here, wherever it runs
                    else if (n.channel == webhook_channel) {
                        if (state_.webhooks_due)
                            state_.webhooks_due();
                    } else
                        wake();
            }
        } catch (const std::exception&) {
            if (state_.stopping)
                break;
        }
        asio::steady_timer backoff(state_.executor, std::chrono::seconds(2));
        boost::system::error_code ec;
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> scheduler::async_stop() {
    state_.stopping = true;
    wake(); // also when the claim loop is not waiting yet: it looks at the flag before it waits
    listener_stop_.emit(asio::cancellation_type::terminal);
    const auto jobs = state_.running.all();
    for (const auto& job : jobs)
        job->stop.request(stop_cause::shutdown);
    const auto runs = ended_;
    for (const auto& [id, ended] : runs)
        co_await ended->async_wait();
    if (stopped_)
        co_await stopped_->async_wait();
    if (listener_stopped_)
        co_await listener_stopped_->async_wait();
}

} // namespace pgexport::engine::detail
