#pragma once
// Structured logs. Every event goes to one sink; the default writes one JSON object per line on stderr:
//   {"ts":"2024-01-31T12:00:00.123Z","level":"info","event":"job_completed","job":"…","rows":10,"ms":3.265}
// A program that embeds the engine sets its own sink (its logger, a test's list) with set_log_sink.

#include <boost/json/object.hpp>

#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace pgexport {

// Receives every event: level ("debug", "info", "warning", "error"), the event's name, its fields. Called
// from any of the engine's threads, possibly at once: a sink must be thread-safe.
using log_sink = std::function<void(std::string_view level, std::string_view event, const boost::json::object& fields)>;

// Sends every later event to `sink`; an empty function restores the default (JSON lines on stderr).
void set_log_sink(log_sink sink);

// Logs one event through the sink.
void log_event(std::string_view level, std::string_view event, boost::json::object fields = {});

// Logs `event` at level error with `fields` and the message of the exception `e` holds, when it holds one:
// the completion handler of a task (co_spawn) that must never end silently.
void log_if_failed(const std::exception_ptr& e, std::string_view event, boost::json::object fields = {});

// The default sink's line, without the newline: ts, level and event first, then the fields; numbers with
// a fraction are plain decimals (3.265, never 3.265E0), rounded to microunits.
std::string format_log_line(std::string_view ts, std::string_view level, std::string_view event,
                            const boost::json::object& fields);

} // namespace pgexport
