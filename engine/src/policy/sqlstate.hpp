#pragma once
// What a PostgreSQL error is, by its SQLSTATE: the one classifier. The connection layer decides by it
// whether a connection is lost (connect again), the job store whether the database is away (the API's
// 503, a job's wait), and the job policy how a failed attempt goes on (policy/job_policy.hpp).

#include <string_view>

namespace pgexport::engine::detail {

enum class sqlstate_class {
    connection, // no server answered, or it went away or turned us down for now (08, 57P01-03, 53300):
                // the database is away; a new connection may work
    transient,  // the server answered, but a later attempt may not meet it: lack of resources (53), a
                // statement timeout or cancel (57014)
    conflict,   // a serialization failure (a standby's replay conflict) or a deadlock (40001, 40P01): retry
    permanent,  // will not pass by trying again: bad SQL, a missing table, a constraint, ...
};

// An empty SQLSTATE means no server answered (the connection failed or was lost).
sqlstate_class classify(std::string_view sqlstate);

std::string_view to_string(sqlstate_class c);

} // namespace pgexport::engine::detail
