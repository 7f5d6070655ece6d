#pragma once
// The webhook service: delivers the notifications of the outbox (export_webhooks), which a job's final
// state wrote in its own transaction. Any instance's service may deliver any row: a pass claims the rows
// due with FOR UPDATE SKIP LOCKED under a claim of its own (claimed_by, claimed_until, a claim token), tries
// them all at once on the sender's thread, and records each try under its claim; the decision after a try
// is policy/webhook_retry's. Delivery is at least once: a try cut short (the instance killed, its claim run
// out, a stop) is made again, by this or another instance, with the same webhook-id and body.
//
// Woken at once by every new row (wake(): the outbox's insert trigger notifies webhook_channel, which the
// scheduler's listener hears), polls as a fallback and for retries that come due. Its statements run on a
// connection and a thread of its own, its tries on a thread of their own: neither waits behind the job
// store, nor holds up a checkpoint.
// Runs on the engine's executor. The River shape: a config checked at construction, start/stop, one pass
// (async_run_once) that returns what it did, and the pure decision tested alone.

#include "policy/webhook_retry.hpp"
#include "runtime/engine_state.hpp"
#include "store/job_repository.hpp"
#include "util/event.hpp"

#include <pgexport/job.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct webhook_service_config {
    std::string database_url;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::string instance;                    // the claims' owner
    std::string key;                         // the HMAC key: the whsec_ secret's bytes
    std::vector<std::string> allowed_hosts;  // --webhook-allow
    webhook_retry_config retry;
    std::chrono::milliseconds timeout{std::chrono::seconds(10)}; // one try, all in
    // How long a claim lasts: longer than a pass's tries and statements take, short enough that a row an
    // instance died with is tried again soon.
    std::chrono::milliseconds claim{std::chrono::seconds(30)};
    std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
    // Delivered and stopped rows are removed this long after they ended (the jobs' retention), and a job's
    // expiresAt in a notification's data is its finishedAt plus this.
    std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
    int batch = 32; // rows a pass claims at most

    // Throws std::invalid_argument naming what is wrong: a key of the wrong length, a timeout, claim or
    // retry window that is not positive, a claim not longer than the timeout, a batch under 1.
    void validate() const;
};

// What one pass did.
struct webhook_report {
    std::int64_t claimed = 0;
    std::int64_t delivered = 0;
    std::int64_t retried = 0;  // failed tries to be made again
    std::int64_t stopped = 0;  // given up: a 410, or the retry window over
    std::int64_t released = 0; // tries cut short by a stop: not counted, tried again later
    std::int64_t lost = 0;     // claims another instance took over meanwhile (their tries count)
    std::int64_t removed = 0;  // old delivered and stopped rows removed
};

class webhook_service {
public:
    // The status JSON of a job, as the API shows it: a notification's "data". Called on the executor.
    using data_formatter = std::function<std::string(const job_info&)>;

    webhook_service(boost::asio::any_io_executor executor, webhook_service_config config);
    ~webhook_service();
    webhook_service(const webhook_service&) = delete;
    webhook_service& operator=(const webhook_service&) = delete;

    // The data of the notifications made from now on; without one, {"jobId", "status"}.
    void set_data_formatter(data_formatter format) { format_ = std::move(format); }

    // A pass now, then one at every new row, every poll_interval, and at once again while passes find
    // full batches; until async_stop.
    void start();
    // Looks for due rows now.
    void wake();
    // One pass: claims the due rows, tries each once, records the tries; removes old ended rows once a
    // minute. Throws unavailable_error while the database is away (the tries it made are recorded).
    boost::asio::awaitable<webhook_report> async_run_once();
    // Starts no further pass, cuts the tries in flight short (their claims given back, nothing counted)
    // and waits for the pass under way.
    boost::asio::awaitable<void> async_stop();

private:
    boost::asio::awaitable<void> loop();
    // f(outbox) on the outbox's thread; a transient database error comes back as unavailable_error.
    template <class F> auto on_outbox(F f) -> boost::asio::awaitable<std::invoke_result_t<F&, job_repository&>>;
    // The body of `row`, fixed under its claim: its payload, or a new one made from the job it carries.
    boost::asio::awaitable<std::optional<std::string>> async_body(const webhook_row& row);

    boost::asio::any_io_executor executor_;
    const webhook_service_config config_;
    data_formatter format_;
    boost::asio::steady_timer timer_;
    bool wake_pending_ = false;
    bool stopping_ = false;
    std::atomic<bool> abort_tries_{false}; // read on the sender's thread
    std::shared_ptr<event> stopped_;
    std::chrono::steady_clock::time_point last_cleanup_{};
    std::minstd_rand random_{std::random_device{}()};
    boost::asio::thread_pool sender_pool_{1};
    boost::asio::thread_pool outbox_pool_{1};
    job_repository outbox_; // touched only on outbox_pool_
};

// The engine's webhook service, configured from its notify settings; nullptr without a webhook key.
std::unique_ptr<webhook_service> make_webhook_service(const engine_state& st);

} // namespace pgexport::engine::detail
