#include "http_error.hpp"

namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace pgexport::http {

std::string_view to_string(http_errc code) {
    switch (code) {
    case http_errc::bad_request: return "bad_request";
    case http_errc::invalid_json: return "invalid_json";
    case http_errc::invalid_query: return "invalid_request";
    case http_errc::unauthorized: return "unauthorized";
    case http_errc::forbidden_origin: return "forbidden_origin";
    case http_errc::invalid_signature: return "invalid_signature";
    case http_errc::not_found: return "not_found";
    case http_errc::method_not_allowed: return "method_not_allowed";
    case http_errc::not_ready: return "not_ready";
    case http_errc::expired: return "expired";
    case http_errc::file_missing: return "file_missing";
    case http_errc::payload_too_large: return "payload_too_large";
    case http_errc::unsupported_media_type: return "unsupported_media_type";
    case http_errc::range_not_satisfiable: return "range_not_satisfiable";
    case http_errc::misdirected_request: return "misdirected_request";
    case http_errc::too_many_streams: return "too_many_streams";
    case http_errc::header_too_large: return "header_too_large";
    case http_errc::internal_error: return "internal_error";
    case http_errc::unavailable: return "unavailable";
    case http_errc::too_many_connections: return "too_many_connections";
    }
    return "internal_error";
}

bhttp::status status_for(http_errc code) {
    switch (code) {
    case http_errc::bad_request:
    case http_errc::invalid_json:
    case http_errc::invalid_query: return bhttp::status::bad_request;
    case http_errc::unauthorized: return bhttp::status::unauthorized;
    case http_errc::forbidden_origin:
    case http_errc::invalid_signature: return bhttp::status::forbidden;
    case http_errc::not_found: return bhttp::status::not_found;
    case http_errc::method_not_allowed: return bhttp::status::method_not_allowed;
    case http_errc::not_ready: return bhttp::status::conflict;
    case http_errc::expired:
    case http_errc::file_missing: return bhttp::status::gone;
    case http_errc::payload_too_large: return bhttp::status::payload_too_large;
    case http_errc::unsupported_media_type: return bhttp::status::unsupported_media_type;
    case http_errc::range_not_satisfiable: return bhttp::status::range_not_satisfiable;
    case http_errc::misdirected_request: return bhttp::status::misdirected_request;
    case http_errc::too_many_streams: return bhttp::status::too_many_requests;
    case http_errc::header_too_large: return bhttp::status::request_header_fields_too_large;
    case http_errc::internal_error: return bhttp::status::internal_server_error;
    case http_errc::unavailable:
    case http_errc::too_many_connections: return bhttp::status::service_unavailable;
    }
    return bhttp::status::internal_server_error;
}

bhttp::status status_for(engine::errc code) {
    switch (code) {
    case engine::errc::invalid_request:
    case engine::errc::unknown_column:
    case engine::errc::unknown_operator:
    case engine::errc::invalid_value: return bhttp::status::bad_request;
    case engine::errc::not_found: return bhttp::status::not_found;
    case engine::errc::conflict: return bhttp::status::conflict;
    case engine::errc::unavailable: return bhttp::status::service_unavailable;
    case engine::errc::too_busy:
    case engine::errc::too_many_jobs: return bhttp::status::too_many_requests;
    case engine::errc::insufficient_storage: return bhttp::status::insufficient_storage;
    case engine::errc::file_missing: return bhttp::status::gone;
    case engine::errc::other_storage: return bhttp::status::conflict;
    }
    return bhttp::status::internal_server_error;
}

json::object error_json(std::string_view code, std::string_view message) {
    return json::object{{"error", json::object{{"code", code}, {"message", message}}}};
}

} // namespace pgexport::http
