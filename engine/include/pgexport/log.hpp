#pragma once
// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2024-01-31T12:00:00.123Z","level":"info","event":"job_completed","job":"…","rows":10}

#include <boost/json/object.hpp>

#include <string_view>

namespace pgexport {

// Writes one line; thread-safe (one write(2) per line).
void log_event(std::string_view level, std::string_view event, boost::json::object fields = {});

} // namespace pgexport
