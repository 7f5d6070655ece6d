#include "notify/webhook_service.hpp"

#include "format/webhook_signature.hpp"
#include "notify/webhook_sender.hpp"
#include "policy/sweep_policy.hpp"
#include "store/job_store.hpp"
#include "util/offload.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace asio = boost::asio;
namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

// Rows the clean-up removes per statement.
constexpr int cleanup_batch = 500;
constexpr auto cleanup_period = std::chrono::minutes(1);

std::string default_data(const job_info& job) {
    return json::serialize(json::object{{"jobId", job.id}, {"status", to_string(job.status)}});
}

// {"type": "export.<event>", "timestamp": "<the event's time>", "data": <the job's status>}.
std::string envelope(const webhook_row& row, const std::string& data) {
    std::string body = json::serialize(
        json::object{{"type", "export." + row.event}, {"timestamp", format_timestamp(row.created_at)}});
    body.pop_back(); // the data, already JSON, goes in as it is
    body += ",\"data\":";
    body += data;
    body += '}';
    return body;
}

std::chrono::milliseconds age_of(const webhook_row& row) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - row.created_at);
}

} // namespace

void webhook_service_config::validate() const {
    if (key.size() < min_webhook_key_bytes || key.size() > max_webhook_key_bytes)
        throw std::invalid_argument("the webhook key must be " + std::to_string(min_webhook_key_bytes) + " to " +
                                    std::to_string(max_webhook_key_bytes) + " bytes");
    if (timeout.count() <= 0 || retry.retry_for.count() <= 0 || retry.first_delay.count() <= 0 ||
        poll_interval.count() <= 0)
        throw std::invalid_argument("webhook timeout, retry window, first delay and poll interval must be positive");
    if (claim <= timeout)
        throw std::invalid_argument("a webhook claim must last longer than a try's time limit");
    if (batch < 1)
        throw std::invalid_argument("a webhook pass must claim at least one row");
}

webhook_service::webhook_service(asio::any_io_executor executor, webhook_service_config config)
    : executor_(std::move(executor)), config_(std::move(config)), timer_(executor_),
      outbox_(config_.database_url, std::chrono::seconds(30), config_.connect_timeout, config_.claim) {
    config_.validate();
}

webhook_service::~webhook_service() {
    abort_tries_ = true;
    sender_pool_.join();
    outbox_pool_.join();
}

template <class F>
auto webhook_service::on_outbox(F f) -> asio::awaitable<std::invoke_result_t<F&, job_repository&>> {
    return async_offload(outbox_pool_, [this, f = std::move(f)]() mutable {
        return unavailable_if_transient([&] { return f(outbox_); });
    });
}

void webhook_service::start() {
    stopped_ = std::make_shared<event>(executor_);
    asio::co_spawn(executor_, loop(), [stopped = stopped_](std::exception_ptr e) {
        log_if_failed(e, "webhook_service_crashed");
        stopped->set();
    });
}

void webhook_service::wake() {
    wake_pending_ = true;
    timer_.cancel();
}

asio::awaitable<void> webhook_service::async_stop() {
    stopping_ = true;
    abort_tries_ = true;
    timer_.cancel();
    if (stopped_)
        co_await stopped_->async_wait();
}

asio::awaitable<void> webhook_service::loop() {
    while (!stopping_) {
        webhook_report report;
        try {
            report = co_await async_run_once();
        } catch (const unavailable_error& e) {
            // The next pass tries again; /healthz is the one to report the database away.
            log_event("info", "webhook_pass_postponed", {{"error", e.what()}});
        } catch (const std::exception& e) {
            log_event("error", "webhook_pass_failed", {{"error", e.what()}});
        }
        if (stopping_)
            break;
        if (report.claimed >= config_.batch)
            continue; // more may be due now
        if (std::exchange(wake_pending_, false))
            continue;
        timer_.expires_after(config_.poll_interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        wake_pending_ = false;
    }
}

asio::awaitable<std::optional<std::string>> webhook_service::async_body(const webhook_row& row) {
    if (row.payload)
        co_return row.payload;
    // The job as the event left it, with its status's derived fields, and its notification not sent yet.
    job_info job = *row.job;
    job.expires_at = expiry_of(job, config_.retention);
    if (job.notify) {
        notify_state unsent;
        unsent.url = job.notify->url;
        job.notify = std::move(unsent);
    }
    const std::string body = envelope(row, format_ ? format_(job) : default_data(job));
    auto fix = [id = row.id, token = row.claim_token, body](job_repository& r) {
        return r.fix_webhook_payload(id, token, body);
    };
    co_return co_await on_outbox(std::move(fix));
}

asio::awaitable<webhook_report> webhook_service::async_run_once() {
    webhook_report report;
    if (std::chrono::steady_clock::now() - last_cleanup_ >= cleanup_period) {
        auto remove = [age = config_.retention](job_repository& r) { return r.remove_old_webhooks(age, cleanup_batch); };
        report.removed = co_await on_outbox(std::move(remove));
        last_cleanup_ = std::chrono::steady_clock::now();
    }
    auto claim = [owner = config_.instance, length = config_.claim, limit = config_.batch](job_repository& r) {
        return r.claim_webhooks(owner, length, limit);
    };
    std::vector<webhook_row> rows = co_await on_outbox(std::move(claim));
    report.claimed = static_cast<std::int64_t>(rows.size());
    if (rows.empty())
        co_return report;
    std::vector<webhook_row> sending;
    std::vector<webhook_message> messages;
    for (auto& row : rows) {
        auto body = co_await async_body(row);
        if (!body) {
            ++report.lost;
            continue;
        }
        messages.push_back({row.url, "msg_" + row.id, std::move(*body)});
        sending.push_back(std::move(row));
    }
    auto send = [this, messages = std::move(messages)] {
        const webhook_sender_config sender{config_.key, config_.allowed_hosts, config_.timeout};
        return send_webhooks(sender, messages, abort_tries_);
    };
    const std::vector<webhook_outcome> outcomes = co_await async_offload(sender_pool_, std::move(send));
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    for (std::size_t i = 0; i < sending.size(); ++i) {
        const webhook_row& row = sending[i];
        const webhook_outcome& outcome = outcomes[i];
        if (outcome.aborted) {
            auto release = [id = row.id, token = row.claim_token](job_repository& r) { r.release_webhook(id, token); };
            co_await on_outbox(std::move(release));
            ++report.released;
            continue;
        }
        const int attempts = row.attempts + 1;
        const webhook_decision decision =
            decide_webhook({outcome.http_status}, attempts, age_of(row), config_.retry, jitter(random_));
        webhook_try_record record;
        record.delivered = decision.verdict == webhook_verdict::delivered;
        record.stopped = decision.verdict == webhook_verdict::stop;
        record.delay = decision.delay;
        record.error = outcome.error;
        if (record.stopped && outcome.error)
            record.error = *outcome.error + "; " + decision.reason;
        auto write = [id = row.id, token = row.claim_token, record](job_repository& r) {
            return r.record_webhook_try(id, token, record);
        };
        const bool held = co_await on_outbox(std::move(write));
        json::object fields{{"job", row.job_id}, {"event", row.event}, {"id", "msg_" + row.id}, {"attempt", attempts}};
        if (!held) {
            ++report.lost;
            log_event("warning", "webhook_claim_lost", std::move(fields));
            continue;
        }
        switch (decision.verdict) {
        case webhook_verdict::delivered:
            ++report.delivered;
            fields["status"] = *outcome.http_status;
            fields["since_event_ms"] = age_of(row).count();
            log_event("info", "webhook_delivered", std::move(fields));
            break;
        case webhook_verdict::retry:
            ++report.retried;
            fields["delay_ms"] = decision.delay.count();
            fields["error"] = outcome.error.value_or("");
            log_event("info", "webhook_retry", std::move(fields));
            break;
        case webhook_verdict::stop:
            ++report.stopped;
            fields["error"] = record.error.value_or(decision.reason);
            log_event("warning", "webhook_stopped", std::move(fields));
            break;
        }
    }
    co_return report;
}

std::unique_ptr<webhook_service> make_webhook_service(const engine_state& st) {
    const notify_config& n = st.config.notify;
    if (n.key.empty())
        return nullptr;
    webhook_service_config c;
    c.database_url = st.config.database_url;
    c.connect_timeout = st.config.connect_timeout;
    c.instance = st.config.instance_id;
    c.key = n.key;
    c.allowed_hosts = n.allowed_hosts;
    c.retry = {n.retry_for, n.first_retry_delay, n.max_retry_delay};
    c.timeout = n.timeout;
    c.claim = std::max<std::chrono::milliseconds>(c.claim, 2 * n.timeout + std::chrono::seconds(10));
    c.poll_interval = st.config.poll_interval;
    c.retention = st.config.retention;
    return std::make_unique<webhook_service>(st.executor, std::move(c));
}

} // namespace pgexport::engine::detail
