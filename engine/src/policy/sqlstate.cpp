#include "policy/sqlstate.hpp"

namespace pgexport::engine::detail {

sqlstate_class classify(std::string_view s) {
    if (s.empty() || s.starts_with("08")) // no answer; connection exception
        return sqlstate_class::connection;
    if (s == "57P01" || s == "57P02" || s == "57P03") // admin shutdown, crash shutdown, cannot connect now
        return sqlstate_class::connection;
    if (s == "53300") // too many connections: the server is there but full for now
        return sqlstate_class::connection;
    if (s.starts_with("53")) // insufficient resources: disk full, out of memory on the server
        return sqlstate_class::transient;
    if (s == "57014") // canceled: the statement timeout, or a cancel request
        return sqlstate_class::transient;
    if (s == "40001" || s == "40P01") // serialization failure, deadlock
        return sqlstate_class::conflict;
    return sqlstate_class::permanent;
}

std::string_view to_string(sqlstate_class c) {
    switch (c) {
    case sqlstate_class::connection: return "connection";
    case sqlstate_class::transient: return "transient";
    case sqlstate_class::conflict: return "conflict";
    case sqlstate_class::permanent: return "permanent";
    }
    return "permanent";
}

} // namespace pgexport::engine::detail
