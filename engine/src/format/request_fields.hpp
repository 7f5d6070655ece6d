#pragma once
// A request's fields that are objects of their own: "notify" (where the job's end is announced) and "since"
// (an incremental export: the field read from the body, and the checks of the earlier job it names). Pure:
// the engine resolves the URL's host and looks the earlier job up.

#include <pgexport/error.hpp>
#include <pgexport/job.hpp>
#include <pgexport/request.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>

namespace pgexport::engine::detail {

// The "notify" object: {"url": "http[s]://…", "events": [...]} (events: every one when left out), in the
// order of notify_events, each once. The URL is checked for its form only.
result<notify_request> parse_notify(const boost::json::value& value);

// The "since" field's value, a job id: invalid_request unless it is a UUID; with what `body` (the whole
// request) leaves out, which the earlier job's request fills in (a field given as null is left out).
result<since_request> parse_since(const boost::json::value& value, const boost::json::object& body);

// Whether `earlier` may be a request's "since" job: it must have completed (or expired: its fixed end is
// known either way), and be of the same table as the request, `table` (nullopt: the request names none,
// so it takes the earlier job's). invalid_request saying why not; nullopt when it may.
std::optional<problem> check_since_job(const job_info& earlier, const std::string& earlier_table,
                                       const std::optional<std::string>& table);

} // namespace pgexport::engine::detail
