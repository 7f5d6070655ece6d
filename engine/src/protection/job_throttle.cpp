#include "protection/job_throttle.hpp"

#include <pgexport/log.hpp>

#include <algorithm>
#include <cstdio>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

// The other sessions at work now: in a statement, or in a transaction whose last statement ended under a
// second ago (pgbench's and most applications' transactions wait on their client between statements; a
// session left idle in a transaction for longer is forgotten, not load). pgexport's own sessions are not
// counted, whichever instance they belong to; nor is this one. Sessions of other roles show no state to
// a role without pg_read_all_stats: they are counted apart, to say so in the log.
constexpr const char* load_sample_sql =
    "SELECT count(*) FILTER (WHERE state = 'active' OR (state LIKE 'idle in transaction%'"
    " AND state_change > clock_timestamp() - interval '1 second')),"
    " count(*) FILTER (WHERE state IS NULL)"
    " FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " AND application_name IS DISTINCT FROM 'pgexport'";

std::string format_rate(double bytes_per_second) {
    char text[64];
    if (bytes_per_second >= 1 << 20)
        std::snprintf(text, sizeof text, "%.1f MiB/s", bytes_per_second / (1 << 20));
    else if (bytes_per_second >= 1 << 10)
        std::snprintf(text, sizeof text, "%.1f KiB/s", bytes_per_second / (1 << 10));
    else
        std::snprintf(text, sizeof text, "%.0f B/s", bytes_per_second);
    return text;
}

} // namespace

job_throttle::job_throttle(engine_state& state, running_job& job, std::size_t share,
                           std::unique_ptr<asio::steady_timer>& pause)
    : state_(state), job_(job), pause_(pause) {
    if (state.config.max_rate && *state.config.max_rate > 0) {
        const double rate = static_cast<double>(*state.config.max_rate) / static_cast<double>(std::max<std::size_t>(share, 1));
        bucket_.emplace(rate, default_burst(rate), clock::now());
        rate_reason_ = "rate limit: " + format_rate(rate) + " (--max-rate";
        if (share > 1)
            rate_reason_ += " shared by " + std::to_string(share) + " slices";
        rate_reason_ += ")";
    }
    if (state.config.gentle)
        gentle_.emplace(*state.config.gentle);
}

job_throttle::waiting_scope::waiting_scope(job_throttle& t, cause c, std::string reason)
    : throttle(t), why(c), start(clock::now()) {
    throttle.job_.waiting = std::move(reason);
}

job_throttle::waiting_scope::~waiting_scope() {
    const auto took = clock::now() - start;
    const double seconds = std::chrono::duration<double>(took).count();
    throttle.job_.waiting.reset();
    if (why == cause::max_rate) {
        throttle.rate_waited_ += took;
        throttle.job_.throttled.max_rate += seconds;
        throttle.state_.stats.throttled_seconds_max_rate += seconds;
    } else {
        throttle.job_.throttled.gentle += seconds;
        throttle.state_.stats.throttled_seconds_gentle += seconds;
    }
}

asio::awaitable<void> job_throttle::async_sleep(clock::duration d) {
    // The flags are set before interrupt() cancels the timer: looking first catches a cancel that came
    // while no wait was pending.
    if (job_.should_stop())
        throw stop_job{};
    if (!pause_)
        pause_ = std::make_unique<asio::steady_timer>(state_.executor);
    pause_->expires_after(d);
    boost::system::error_code ec;
    co_await pause_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (job_.should_stop())
        throw stop_job{};
}

asio::awaitable<void> job_throttle::async_rate_wait() {
    if (!bucket_)
        co_return;
    for (;;) {
        const auto wait = bucket_->wait_time(clock::now());
        if (wait <= clock::duration::zero())
            co_return;
        waiting_scope scope(*this, cause::max_rate, rate_reason_);
        co_await async_sleep(wait);
    }
}

asio::awaitable<load_sample> job_throttle::async_sample(async_connection& connection) {
    result_ptr r = co_await connection.async_query(load_sample_sql);
    load_sample sample;
    sample.busy_sessions = static_cast<int>(get_int64(r.get(), 0, 0).value_or(0));
    const auto hidden = get_int64(r.get(), 0, 1).value_or(0);
    if (hidden > 0 && !state_.warned_hidden_sessions) {
        state_.warned_hidden_sessions = true;
        log_event(
            "warning", "gentle_sessions_hidden",
            {{"sessions", hidden},
             {"message", "--gentle cannot see what other roles' sessions do; grant pg_read_all_stats to "
                         "pgexport's role, or only its own role's sessions count as load"}});
    }
    co_return sample;
}

asio::awaitable<void> job_throttle::async_between_chunks(async_connection& connection, clock::duration took,
                                                         std::int64_t rows) {
    if (!gentle_)
        co_return;
    const load_sample load = co_await async_sample(connection);
    throttle_decision decision = gentle_->after_chunk(took, rows, load);
    if (decision.pause <= clock::duration::zero()) {
        if (paused_last_chunk_)
            log_event("info", "gentle_resumed",
                      {{"job", job_.id()},
                       {"paused_seconds", std::chrono::duration<double>(paused_in_row_).count()},
                       {"sessions", gentle_->average_sessions()}});
        paused_last_chunk_ = false;
        paused_in_row_ = {};
        co_return;
    }
    if (!paused_last_chunk_)
        log_event("info", "gentle_paused", {{"job", job_.id()}, {"reason", decision.reason}});
    paused_last_chunk_ = true;
    const auto start = clock::now();
    const auto until = start + decision.pause;
    {
        waiting_scope scope(*this, cause::gentle, decision.reason);
        const auto interval =
            std::max<clock::duration>(state_.config.gentle->interval, std::chrono::milliseconds(1));
        for (auto now = start; now < until; now = clock::now()) {
            co_await async_sleep(std::min<clock::duration>(interval, until - now));
            if (clock::now() >= until)
                break;
            const load_sample again = co_await async_sample(connection);
            if (gentle_->resume_now(again))
                break;
            job_.waiting = gentle_->reason();
        }
    }
    paused_in_row_ += clock::now() - start;
}

} // namespace pgexport::engine::detail
