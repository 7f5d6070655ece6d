#pragma once
// An instance's start, step by step: its name, the data directory, the migrations, the tables, the
// standby, the storage's identity, and the leases that dead processes of this host left behind.

#include "runtime/engine_state.hpp"

#include <pgexport/engine.hpp>

#include <boost/asio/awaitable.hpp>

namespace pgexport::engine::detail {

// `config` with the defaults filled in: a name for the instance when none was given
// (policy/instance_identity.hpp: host, pid, boot, PID namespace and a random nonce).
engine_config with_defaults(engine_config config);

// Everything async_start does before the scheduler and the sweeper start. Throws unavailable_error while
// the database cannot be reached (the caller tries again), std::runtime_error for what configuration must
// fix (the data directory, the table, the standby).
boost::asio::awaitable<void> async_start_instance(engine_state& state);

} // namespace pgexport::engine::detail
