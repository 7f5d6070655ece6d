#include "queue/scheduler.hpp"

#include "queue/job_runner.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

void scheduler::start() {
    stopped_ = std::make_shared<event>(state_.executor);
    listener_stopped_ = std::make_shared<event>(state_.executor);
    asio::co_spawn(state_.executor, claim_loop(), [stopped = stopped_](std::exception_ptr e) {
        if (e)
            log_event("error", "scheduler_crashed", {});
        stopped->set();
    });
    asio::co_spawn(state_.executor, listen_loop(), [stopped = listener_stopped_](std::exception_ptr e) {
        if (e)
            log_event("error", "listener_crashed", {});
        stopped->set();
    });
}

void scheduler::wake() {
    wake_pending_ = true;
    timer_.cancel();
}

void scheduler::launch(stored_job claimed, lease_tracker::clock::time_point claimed_at) {
    auto job = std::make_shared<running_job>();
    job->job = std::move(claimed);
    job->lease = lease_tracker(state_.config.lease, claimed_at);
    const job_info& info = job->job.info;
    job->last_id = info.last_processed_id;
    job->rows = info.rows_exported;
    job->bytes = info.bytes_written;
    job->attempts = info.attempts;
    if (job->parallel())
        job->load_slices();
    job->job.info.instance = state_.config.instance_id;
    job->done = std::make_unique<event>(state_.executor);
    state_.running[info.id] = job;
    state_.progress->notify(info.id);
    asio::co_spawn(state_.executor, run_job(state_, job), [this, job](std::exception_ptr e) {
        if (e)
            log_event("error", "job_crashed", {{"job", job->id()}});
        state_.running.erase(job->id());
        if (job->job.info.status != job_status::running) {
            job->job.info.instance.reset();
            job->job.info.rows_exported = job->rows;
            job->job.info.bytes_written = job->bytes;
            job->job.info.last_processed_id = job->last_id;
            job->job.info.attempts = job->attempts;
        }
        job->done->set();
        state_.progress->notify(job->id());
        wake();
    });
}

asio::awaitable<void> scheduler::claim_loop() {
    while (!state_.stopping) {
        bool claimed = false;
        if (state_.running.size() < static_cast<std::size_t>(std::max(1, state_.config.max_concurrent))) {
            try {
                auto claim = [owner = state_.config.instance_id, tables = state_.tables()](job_repository& r) {
                    return r.claim(owner, tables);
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
        timer_.expires_after(state_.config.poll_interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        wake_pending_ = false;
    }
}

asio::awaitable<void> scheduler::listen_loop() {
    // Other instances' new jobs arrive as notifications: an idle instance claims them at once instead of
    // at its next poll. Without the listener (the database away), polling alone finds them.
    while (!state_.stopping) {
        try {
            async_connection connection(state_.executor);
            listener_ = &connection;
            struct unlink {
                async_connection*& l;
                ~unlink() { l = nullptr; }
            } unlink_listener{listener_};
            co_await connection.async_connect(state_.config.database_url, std::chrono::milliseconds(0),
                                              state_.config.connect_timeout);
            co_await connection.async_exec("LISTEN pgexport_jobs");
            wake(); // anything queued while we were not listening
            while (!state_.stopping) {
                co_await connection.async_wait_notification();
                wake();
            }
        } catch (const std::exception&) {
            if (state_.stopping)
                break;
        }
        listener_backoff_ = std::make_unique<asio::steady_timer>(state_.executor, std::chrono::seconds(2));
        boost::system::error_code ec;
        co_await listener_backoff_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        listener_backoff_.reset();
    }
}

asio::awaitable<void> scheduler::async_stop() {
    state_.stopping = true;
    wake(); // also when the claim loop is not waiting yet: it looks at the flag before it waits
    if (listener_)
        listener_->cancel();
    if (listener_backoff_)
        listener_backoff_->cancel();
    auto jobs = state_.running;
    for (auto& [id, job] : jobs) {
        job->stop_requested = true;
        job->interrupt();
    }
    for (auto& [id, job] : jobs)
        co_await job->done->async_wait();
    if (stopped_)
        co_await stopped_->async_wait();
    if (listener_stopped_)
        co_await listener_stopped_->async_wait();
}

} // namespace pgexport::engine::detail
