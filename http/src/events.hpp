#pragma once
// GET /api/export/{id}/events: the job's progress as Server-Sent Events (text/event-stream). A `progress`
// event (data: the status JSON) at once, at each change of state, and at least once a second while the
// job runs; then one event named after the final status (completed, failed, cancelled, ...) and the end of
// the stream. A job that has ended already gets its final event alone.
//
// No polling where the engine can tell: a job this instance runs wakes the stream at each checkpoint and
// change of state (export_engine::watch). A job another instance runs is read from the job store once a
// second. The stream ends early when the server shuts down or the client goes away.

#include "context.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::http::handlers {

boost::asio::awaitable<reply> export_events(server_context& ctx, const request_context& rc);

} // namespace pgexport::http::handlers
