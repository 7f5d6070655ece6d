#pragma once
// The asynchronous connection that waits on libpq's socket through Asio, for the export's COPY; the
// blocking helpers are in <pgexport/shared/libpq.hpp>.

#include <pgexport/shared/libpq.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// Receives the rows of a COPY TO STDOUT.
class copy_sink {
public:
    virtual ~copy_sink() = default;
    // Takes one row; returns true when async_drain must be awaited before the next row.
    virtual bool consume(std::string_view row) = 0;
    virtual boost::asio::awaitable<void> async_drain() = 0;
};

// A connection owned by one coroutine at a time, whose socket waits go through the executor.
class async_connection {
public:
    explicit async_connection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    ~async_connection();
    async_connection(const async_connection&) = delete;
    async_connection& operator=(const async_connection&) = delete;

    // Connects without blocking (PQconnectStartParams/PQconnectPoll), then applies session_setup_sql.
    // Throws pg_error, also when `timeout` passes first.
    boost::asio::awaitable<void> async_connect(const std::string& url,
                                               std::chrono::milliseconds statement_timeout,
                                               std::chrono::milliseconds timeout);

    // Runs `sql` (one or more statements, simple protocol) and discards the results; throws pg_error.
    boost::asio::awaitable<void> async_exec(const std::string& sql);

    // Runs one statement that returns rows and returns its result; throws pg_error.
    boost::asio::awaitable<result_ptr> async_query(const std::string& sql);

    // Runs a COPY ... TO STDOUT and hands each data row to `sink` as libpq returns it: exactly one row per
    // call, newline included. While the sink drains, the socket is not read: that is the backpressure.
    // Throws pg_error; exceptions from the sink pass through (the connection must then be closed).
    boost::asio::awaitable<void> async_copy_out(const std::string& sql, copy_sink& sink);

    // One NOTIFY as received: its channel and payload.
    struct notification {
        std::string channel;
        std::string payload;
    };
    // Waits until a notification (LISTEN) arrives and returns every one that has; throws pg_error when
    // the connection is lost.
    boost::asio::awaitable<std::vector<notification>> async_wait_notification();

    // Cancels the pending wait, if any, and every later one: they fail with operation_aborted.
    void cancel();

    // Closes the connection (safe when not connected).
    void close() noexcept;

    bool is_open() const noexcept { return conn_ != nullptr; }

    // True when the session can run another statement now: connected, never cancelled, out of any
    // transaction, no statement or result pending, and nothing sent by the server since (without waiting):
    // a session the server ended (its backend terminated, the server restarted) is not reusable.
    bool is_reusable() noexcept;

private:
    boost::asio::awaitable<void> async_wait_readable();
    boost::asio::awaitable<void> async_flush_output();
    boost::asio::awaitable<result_ptr> async_get_result();
    [[noreturn]] void throw_connection_error(std::string_view what);
    void throw_if_cancelled() const;

    boost::asio::any_io_executor executor_;
    conn_ptr conn_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
    std::unique_ptr<boost::asio::steady_timer> deadline_; // while connecting
    bool cancelled_ = false; // sticky: every wait after cancel() fails at once
};

} // namespace pgexport::engine::detail
