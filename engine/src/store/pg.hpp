#pragma once
// libpq behind RAII handles, blocking helpers for the job store, and an asynchronous connection that
// waits on the socket through Asio for the export's COPY.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgexport::engine::detail {

struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct pqmem_deleter {
    void operator()(void* p) const noexcept { PQfreemem(p); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_deleter>;
using result_ptr = std::unique_ptr<PGresult, result_deleter>;
using pqmem_ptr = std::unique_ptr<char, pqmem_deleter>;

// A database failure, with its SQLSTATE when the server sent one ("" for a lost connection).
class pg_error : public std::runtime_error {
public:
    pg_error(std::string message, std::string sqlstate)
        : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }

    // True for failures that a later attempt may not meet: a lost or refused connection, a server
    // shutting down or restarting, a statement timeout, serialization failures and deadlocks.
    bool transient() const noexcept;

private:
    std::string sqlstate_;
};

// The session settings that make COPY's output independent of the server's configuration.
std::string session_setup_sql(std::chrono::milliseconds statement_timeout);

// Connects and blocks until done; applies session_setup_sql. Throws pg_error.
conn_ptr connect_blocking(const std::string& url, std::chrono::milliseconds statement_timeout,
                          std::chrono::milliseconds connect_timeout);

// Runs one statement with text parameters (nullopt = NULL); throws pg_error unless it succeeds.
result_ptr exec(PGconn* conn, std::string_view sql,
                const std::vector<std::optional<std::string>>& params = {});

using sql_params = std::vector<std::optional<std::string>>;

// One blocking connection, made on first use and again after it was lost. Owned by one thread.
class blocking_session {
public:
    blocking_session(std::string url, std::chrono::milliseconds statement_timeout,
                     std::chrono::milliseconds connect_timeout)
        : url_(std::move(url)), statement_timeout_(statement_timeout), connect_timeout_(connect_timeout) {}

    // Runs `sql`; when the connection was lost, connects again and runs it once more. Only for
    // statements that are safe to repeat: the first run may have been carried out before the loss.
    result_ptr run(std::string_view sql, const sql_params& params = {});
    // Runs `sql` once; a lost connection is the caller's to report.
    result_ptr run_once(std::string_view sql, const sql_params& params = {});
    // Runs f() between BEGIN and COMMIT, its statements through run_once; ROLLBACK when it throws. When
    // the connection was lost, the whole transaction runs once more on a new one: only for bodies that
    // are safe to repeat (a lost COMMIT may have committed).
    template <class F> auto transaction(F f) -> std::invoke_result_t<F&> {
        for (int attempt = 0;; ++attempt) {
            try {
                run_once("BEGIN");
                auto out = f();
                run_once("COMMIT");
                return out;
            } catch (const pg_error& e) {
                if (!lost(e) || attempt > 0) {
                    roll_back();
                    throw;
                }
                conn_.reset();
            } catch (...) {
                roll_back();
                throw;
            }
        }
    }

    const std::string& url() const noexcept { return url_; }

private:
    PGconn* connection();
    // True when `e` means the connection is gone (nothing answered, or the server went away).
    static bool lost(const pg_error& e);
    // Ends an open transaction, if the connection is still there; errors are ignored.
    void roll_back() noexcept;

    std::string url_;
    std::chrono::milliseconds statement_timeout_;
    std::chrono::milliseconds connect_timeout_;
    conn_ptr conn_;
};

std::optional<std::string> opt_int(std::optional<std::int64_t> v);

// `values` as a PostgreSQL text[] literal (every element quoted, so any text reads back as itself).
std::string text_array(const std::vector<std::string>& values);

// Value of row/column as text; nullopt for NULL.
std::optional<std::string> get_text(const PGresult* r, int row, int column);
std::optional<std::int64_t> get_int64(const PGresult* r, int row, int column);

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

    // Waits until a notification (LISTEN) arrives and consumes every one that has; throws pg_error when
    // the connection is lost.
    boost::asio::awaitable<void> async_wait_notification();

    // Cancels the pending wait, if any, and every later one: they fail with operation_aborted.
    void cancel();

    // Closes the connection (safe when not connected).
    void close() noexcept;

    bool is_open() const noexcept { return conn_ != nullptr; }

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
