#include "store/pg.hpp"

#include "policy/sqlstate.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <poll.h>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <variant>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace pgexport::engine::detail {

namespace {

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

pg_error error_from_result(const PGresult* r, PGconn* conn) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    // The primary message reads best ("invalid input syntax for type numeric: \"abc\""); the full text
    // repeats the severity and adds context meant for developers.
    std::string message = trimmed(r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr);
    if (message.empty())
        message = trimmed(r ? PQresultErrorMessage(r) : nullptr);
    if (message.empty())
        message = trimmed(PQerrorMessage(conn));
    if (message.empty())
        message = "unknown database error";
    return pg_error(std::move(message), state ? state : "");
}

bool succeeded(const PGresult* r) {
    auto s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

} // namespace

bool pg_error::transient() const noexcept {
    return classify(sqlstate_) != sqlstate_class::permanent;
}

std::string session_setup_sql(std::chrono::milliseconds statement_timeout) {
    return "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 3; SET client_min_messages "
           "= warning; SET statement_timeout = " + std::to_string(statement_timeout.count()) + ";"
           // A backend whose client died (kill -9, a lost host) stops its statement within a second instead of
           // running a COPY to its end, or for ever when it waits on a lock (PostgreSQL 14 and later).
           " DO $$BEGIN IF current_setting('server_version_num')::int >= 140000 THEN"
           " PERFORM set_config('client_connection_check_interval', '1000', false); END IF; END$$;";
}

conn_ptr connect_blocking(const std::string& url, std::chrono::milliseconds statement_timeout,
                          std::chrono::milliseconds connect_timeout) {
    const std::string timeout_s = std::to_string(
        std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(connect_timeout).count()));
    const char* keys[] = {"dbname", "client_encoding", "application_name", "connect_timeout", nullptr};
    const char* values[] = {url.c_str(), "UTF8", "pgexport", timeout_s.c_str(), nullptr};
    conn_ptr conn(PQconnectdbParams(keys, values, 1));
    if (!conn)
        throw pg_error("out of memory allocating a database connection", "");
    if (PQstatus(conn.get()) != CONNECTION_OK)
        throw pg_error("cannot connect to the database: " + trimmed(PQerrorMessage(conn.get())), "");
    exec(conn.get(), session_setup_sql(statement_timeout));
    return conn;
}

result_ptr exec(PGconn* conn, std::string_view sql, const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params)
        values.push_back(p ? p->c_str() : nullptr);
    const std::string text(sql);
    result_ptr r(params.empty() ? PQexec(conn, text.c_str())
                                : PQexecParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr,
                                               values.data(), nullptr, nullptr, 0));
    if (!r || !succeeded(r.get()))
        throw error_from_result(r.get(), conn);
    return r;
}

std::optional<std::string> get_text(const PGresult* r, int row, int column) {
    if (PQgetisnull(r, row, column))
        return std::nullopt;
    return std::string(PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column)));
}

std::optional<std::int64_t> get_int64(const PGresult* r, int row, int column) {
    if (PQgetisnull(r, row, column))
        return std::nullopt;
    return std::strtoll(PQgetvalue(r, row, column), nullptr, 10);
}

async_connection::~async_connection() {
    close();
}

namespace {

// A statement still running on the server goes on after its client hangs up, until it next writes to
// the socket: a chunk waiting for a lock, or scanning for rows a filter rejects, can keep a backend busy
// for minutes after the job was cancelled. So ask the server to stop it. PQcancel blocks (it opens a
// connection of its own, without a timeout), so it runs on a thread of its own; the PGcancel it uses is
// independent of the PGconn, which is closed at once.
void cancel_statement_in_flight(PGconn* conn) noexcept {
    if (PQtransactionStatus(conn) != PQTRANS_ACTIVE)
        return;
    PGcancel* request = PQgetCancel(conn);
    if (!request)
        return;
    try {
        std::thread([request] {
            char error[256];
            PQcancel(request, error, sizeof error);
            PQfreeCancel(request);
        }).detach();
    } catch (const std::system_error&) {
        PQfreeCancel(request); // no thread to be had: the backend stops when it next writes
    }
}

} // namespace

void async_connection::close() noexcept {
    if (conn_)
        cancel_statement_in_flight(conn_.get());
    if (socket_) {
        // The descriptor belongs to libpq: Asio must not close it.
        socket_->release();
        socket_.reset();
    }
    conn_.reset();
}

bool async_connection::is_reusable() noexcept {
    PGconn* c = conn_.get();
    if (!c || !socket_ || cancelled_ || PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE ||
        PQisBusy(c) != 0)
        return false;
    // An idle session is sent nothing unasked: with anything to read (a terminated backend's FATAL, the end
    // of the stream, a changed parameter) it is not used again.
    pollfd socket{PQsocket(c), POLLIN, 0};
    return ::poll(&socket, 1, 0) == 0;
}

void async_connection::cancel() {
    cancelled_ = true;
    if (socket_)
        socket_->cancel();
    if (deadline_)
        deadline_->cancel();
}

void async_connection::throw_if_cancelled() const {
    if (cancelled_)
        throw boost::system::system_error(asio::error::operation_aborted, "the connection's work was cancelled");
}

void async_connection::throw_connection_error(std::string_view what) {
    std::string message = std::string(what) + ": " + trimmed(conn_ ? PQerrorMessage(conn_.get()) : nullptr);
    throw pg_error(std::move(message), "");
}

asio::awaitable<void> async_connection::async_connect(const std::string& url,
                                                      std::chrono::milliseconds statement_timeout,
                                                      std::chrono::milliseconds timeout) {
    close();
    const char* keys[] = {"dbname",          "client_encoding",     "application_name", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count", nullptr};
    const char* values[] = {url.c_str(), "UTF8", "pgexport", "1", "30", "10", "3", nullptr};
    conn_.reset(PQconnectStartParams(keys, values, 1));
    if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD)
        throw_connection_error("cannot connect to the database");

    deadline_ = std::make_unique<asio::steady_timer>(executor_, timeout);
    struct drop_deadline {
        std::unique_ptr<asio::steady_timer>& d;
        ~drop_deadline() { d.reset(); }
    } drop{deadline_};
    auto poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        throw_if_cancelled();
        if (poll == PGRES_POLLING_FAILED)
            throw_connection_error("cannot connect to the database");
        // The socket may change while libpq tries the addresses in turn: wrap it anew each time.
        socket_ = std::make_unique<asio::posix::stream_descriptor>(executor_, PQsocket(conn_.get()));
        auto kind = poll == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                  : asio::posix::descriptor_base::wait_write;
        // `||` waits for the first branch to succeed: a cancelled socket wait does not end it, so cancel()
        // also cancels the deadline, and the flag tells the two apart.
        auto which = co_await (socket_->async_wait(kind, asio::use_awaitable) ||
                               deadline_->async_wait(asio::use_awaitable));
        socket_->release();
        socket_.reset();
        throw_if_cancelled();
        if (which.index() == 1)
            throw pg_error("cannot connect to the database: timed out after " +
                               std::to_string(timeout.count()) + " ms",
                           "");
        poll = PQconnectPoll(conn_.get());
    }
    if (PQsetnonblocking(conn_.get(), 1) != 0)
        throw_connection_error("cannot make the database connection non-blocking");
    socket_ = std::make_unique<asio::posix::stream_descriptor>(executor_, PQsocket(conn_.get()));
    co_await async_exec(session_setup_sql(statement_timeout));
}

asio::awaitable<void> async_connection::async_wait_readable() {
    throw_if_cancelled(); // a cancel that came between two waits
    co_await socket_->async_wait(asio::posix::descriptor_base::wait_read, asio::use_awaitable);
    if (!PQconsumeInput(conn_.get()))
        throw_connection_error("lost the database connection");
}

asio::awaitable<void> async_connection::async_flush_output() {
    for (;;) {
        int rc = PQflush(conn_.get());
        if (rc == 0)
            co_return;
        if (rc < 0)
            throw_connection_error("lost the database connection");
        throw_if_cancelled();
        co_await socket_->async_wait(asio::posix::descriptor_base::wait_write, asio::use_awaitable);
    }
}

asio::awaitable<std::vector<async_connection::notification>> async_connection::async_wait_notification() {
    for (;;) {
        if (!conn_ || !PQconsumeInput(conn_.get()))
            throw_connection_error("lost the database connection");
        std::vector<notification> got;
        while (PGnotify* n = PQnotifies(conn_.get())) {
            got.push_back({n->relname ? n->relname : "", n->extra ? n->extra : ""});
            PQfreemem(n);
        }
        if (!got.empty())
            co_return got;
        co_await async_wait_readable();
    }
}

asio::awaitable<void> async_connection::async_exec(const std::string& sql) {
    if (!conn_ || !PQsendQuery(conn_.get(), sql.c_str()))
        throw_connection_error("cannot send a statement");
    co_await async_flush_output();
    std::optional<pg_error> failure;
    for (;;) {
        while (PQisBusy(conn_.get()))
            co_await async_wait_readable();
        result_ptr r(PQgetResult(conn_.get()));
        if (!r)
            break;
        if (!succeeded(r.get()) && !failure)
            failure = error_from_result(r.get(), conn_.get());
    }
    if (failure)
        throw *failure;
}

asio::awaitable<result_ptr> async_connection::async_query(const std::string& sql) {
    if (!conn_ || !PQsendQuery(conn_.get(), sql.c_str()))
        throw_connection_error("cannot send a statement");
    co_await async_flush_output();
    result_ptr first;
    std::optional<pg_error> failure;
    while (result_ptr r = co_await async_get_result()) {
        if (!succeeded(r.get()) && !failure)
            failure = error_from_result(r.get(), conn_.get());
        else if (!first)
            first = std::move(r);
    }
    if (failure)
        throw *failure;
    if (!first)
        throw pg_error("the statement returned no result", "");
    co_return first;
}

asio::awaitable<result_ptr> async_connection::async_get_result() {
    while (PQisBusy(conn_.get()))
        co_await async_wait_readable();
    co_return result_ptr(PQgetResult(conn_.get()));
}

asio::awaitable<void> async_connection::async_copy_out(const std::string& sql, copy_sink& sink) {
    if (!conn_ || !PQsendQuery(conn_.get(), sql.c_str()))
        throw_connection_error("cannot send a statement");
    co_await async_flush_output();

    result_ptr start = co_await async_get_result();
    if (!start || PQresultStatus(start.get()) != PGRES_COPY_OUT) {
        pg_error failure =
            start ? error_from_result(start.get(), conn_.get()) : pg_error("COPY returned no result", "");
        while (co_await async_get_result()) {
        }
        throw failure;
    }
    // Asio's reactor is edge-triggered: a wait sleeps until new data arrives even when the socket still
    // holds some (libpq reads at most its buffer's worth). So read first, and wait only when a read
    // brought nothing: a level-triggered loop, like libpq's own blocking mode.
    bool read_since_row = false;
    for (;;) {
        char* data = nullptr;
        int n = PQgetCopyData(conn_.get(), &data, 1);
        if (n > 0) {
            pqmem_ptr row(data);
            read_since_row = false;
            if (sink.consume(std::string_view(data, static_cast<std::size_t>(n))))
                co_await sink.async_drain();
        } else if (n == 0) {
            if (!read_since_row) {
                if (!PQconsumeInput(conn_.get()))
                    throw_connection_error("lost the database connection");
                read_since_row = true;
            } else {
                co_await async_wait_readable();
            }
        } else if (n == -1) {
            break;
        } else {
            throw_connection_error("COPY failed");
        }
    }
    std::optional<pg_error> failure;
    while (result_ptr r = co_await async_get_result()) {
        if (!succeeded(r.get()) && !failure)
            failure = error_from_result(r.get(), conn_.get());
    }
    if (failure)
        throw *failure;
}

PGconn* blocking_session::connection() {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK)
        conn_ = connect_blocking(url_, statement_timeout_, connect_timeout_);
    return conn_.get();
}

bool blocking_session::lost(const pg_error& e) {
    return classify(e.sqlstate()) == sqlstate_class::connection;
}

void blocking_session::roll_back() noexcept {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE)
        result_ptr(PQexec(conn_.get(), "ROLLBACK"));
}

result_ptr blocking_session::run(std::string_view sql, const sql_params& params) {
    try {
        return exec(connection(), sql, params);
    } catch (const pg_error& e) {
        // A connection lost since the last statement (say, a database restart): one fresh try.
        if (!lost(e))
            throw;
        conn_.reset();
        return exec(connection(), sql, params);
    }
}

result_ptr blocking_session::run_once(std::string_view sql, const sql_params& params) {
    try {
        return exec(connection(), sql, params);
    } catch (const pg_error& e) {
        if (e.transient())
            conn_.reset(); // the next statement connects afresh
        throw;
    }
}

std::optional<std::string> opt_int(std::optional<std::int64_t> v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

std::string text_array(const std::vector<std::string>& values) {
    std::string out = "{";
    for (const auto& v : values) {
        if (out.size() > 1)
            out += ',';
        out += '"';
        for (char c : v) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

} // namespace pgexport::engine::detail
