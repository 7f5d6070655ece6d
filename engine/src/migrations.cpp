#include "store/pg.hpp"

#include <pgexport/migrations.hpp>

#include <set>
#include <stdexcept>

namespace pgexport::engine {

namespace {

// Any constant shared by every pgexport process: it names the lock that serializes migration runners.
constexpr const char* migration_lock_key = "7283401956620113";

} // namespace

int apply_migrations(const std::string& database_url) {
    using namespace detail;
    try {
        conn_ptr conn = connect_blocking(database_url, std::chrono::minutes(10), std::chrono::seconds(10));
        exec(conn.get(), "BEGIN");
        // The lock comes first: two runners creating schema_migrations at once would collide.
        exec(conn.get(), std::string("SELECT pg_advisory_xact_lock(") + migration_lock_key + ")");
        exec(conn.get(), "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version integer PRIMARY KEY,"
                         " name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())");
        std::set<int> applied;
        result_ptr r = exec(conn.get(), "SELECT version FROM schema_migrations");
        for (int i = 0; i < PQntuples(r.get()); ++i)
            applied.insert(static_cast<int>(*get_int64(r.get(), i, 0)));
        int count = 0;
        for (const migration& m : embedded_migrations()) {
            if (applied.contains(m.version))
                continue;
            try {
                exec(conn.get(), m.sql);
            } catch (const pg_error& e) {
                throw std::runtime_error("migration " + std::to_string(m.version) + " (" +
                                         std::string(m.name) + ") failed: " + e.what());
            }
            exec(conn.get(), "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                 {std::to_string(m.version), std::string(m.name)});
            ++count;
        }
        exec(conn.get(), "COMMIT");
        return count;
    } catch (const pg_error& e) {
        throw std::runtime_error(std::string("cannot apply migrations: ") + e.what());
    }
}

} // namespace pgexport::engine
