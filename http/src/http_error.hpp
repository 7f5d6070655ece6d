#pragma once
// The HTTP layer's own error codes (those that do not come from the engine), each with its status, and
// the status of each engine error. Every error body is {"error": {"code": …, "message": …}}. Pure.

#include <pgexport/error.hpp>

#include <ostream> // before Beast: its string_view needs it (Boost 1.81)

#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>

#include <string_view>

namespace pgexport::http {

enum class http_errc {
    bad_request,            // 400: malformed HTTP
    invalid_json,           // 400: the body is not JSON
    invalid_query,          // 400: a malformed query string parameter
    unauthorized,           // 401: no or wrong API key
    forbidden_origin,       // 403: a state-changing request from another site (CSRF)
    invalid_signature,      // 403: a signed link that is wrong, altered or expired
    not_found,              // 404: no such endpoint
    method_not_allowed,     // 405
    not_ready,              // 409: the job has not completed
    expired,                // 410: the job's file was deleted after the retention
    file_missing,           // 410: a completed job's file is not on disk
    payload_too_large,      // 413
    unsupported_media_type, // 415: a POST body that is not JSON
    range_not_satisfiable,  // 416
    misdirected_request,    // 421: a Host that is not ours (DNS rebinding)
    too_many_streams,       // 429: the client has --max-streams-per-client event streams open
    header_too_large,       // 431
    internal_error,         // 500
    unavailable,            // 503: the database is away
    too_many_connections,   // 503
};

// The snake_case code of the body, e.g. "misdirected_request".
std::string_view to_string(http_errc code);
boost::beast::http::status status_for(http_errc code);

// The HTTP status for an engine problem.
boost::beast::http::status status_for(engine::errc code);

// {"error": {"code": …, "message": …}}
boost::json::object error_json(std::string_view code, std::string_view message);

} // namespace pgexport::http
