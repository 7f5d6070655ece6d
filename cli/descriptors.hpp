#pragma once
// File descriptors for `serve`: the soft RLIMIT_NOFILE raised to the hard limit at start, and the HTTP
// connection cap sized from what the process may open.

#include <cstddef>
#include <cstdint>

namespace pgexport::cli {

struct descriptor_limit {
    std::uint64_t before = 0; // the soft limit found at start
    std::uint64_t soft = 0;   // the soft limit now
    std::uint64_t hard = 0;
    int error = 0; // errno of a setrlimit that failed (the soft limit stays as it was); 0 when it worked
};

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard limit is unlimited).
descriptor_limit raise_descriptor_limit();

// The default cap on open HTTP connections for a process that may open `descriptors` files and runs
// `max_concurrent` jobs. Pure. A reserve is kept for what is not a connection (the log, the listener,
// Asio's own, the job store's and the catalog's database connections, and per job its database
// connection and its files); each connection may hold two descriptors (its socket and, while it
// downloads, the file). At least 1, at most 100,000.
std::size_t connection_cap(std::uint64_t descriptors, int max_concurrent);

} // namespace pgexport::cli
