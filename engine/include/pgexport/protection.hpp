#pragma once
// Database protection: how an export holds itself back so that the database's other work does not
// suffer. Plain settings, no I/O (the engine's sans-I/O core decides with them).

#include <chrono>

namespace pgexport::engine {

// --gentle: how an export yields to the database's other work, between its chunks. After each chunk the
// engine samples the load; while the database is busy it pauses before the next chunk, longer while the
// load stays high, and goes on as soon as it falls (see docs/scaling.md).
struct gentle_config {
    // Busy while more than this many other sessions (not pgexport's) are in a statement or a transaction
    // at once, averaged over the recent samples...
    int max_sessions = 1;
    // ...or while the latest chunk took at least this many times as long per row as the job's fastest
    // (contention the sessions do not show: the disk, other programs on the host). 0: not looked at.
    double max_slowdown = 3;
    // While the database stays busy the export still runs this share of the time: it always finishes,
    // at most about 1/min_share times slower than beside the same load unthrottled (docs/scaling.md).
    double min_share = 0.1;
    std::chrono::milliseconds interval{200}; // the load is sampled this often in a pause
    std::chrono::milliseconds max_pause{std::chrono::seconds(10)}; // the longest single pause
};

} // namespace pgexport::engine
