#pragma once
// libpq behind RAII handles and the blocking helpers: connections, statements with text parameters, the
// error with its SQLSTATE, a session that connects again after a loss. Shared by the engine (store/) with
// the programs beside it (the demo seeder), explicitly: the engine's other internals stay private.

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

} // namespace pgexport::engine::detail
