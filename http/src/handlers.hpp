#pragma once
// The API's handlers, one per route (the route table is in handle_request.cpp).

#include "context.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

namespace pgexport::http::handlers {

using boost::asio::awaitable;

awaitable<reply> healthz(server_context& ctx, const request_context& rc);
awaitable<reply> metrics(server_context& ctx, const request_context& rc);
awaitable<reply> openapi(server_context& ctx, const request_context& rc);
awaitable<reply> records(server_context& ctx, const request_context& rc);
awaitable<reply> table_schema(server_context& ctx, const request_context& rc); // GET /api/schema
awaitable<reply> create_export(server_context& ctx, const request_context& rc);
awaitable<reply> list_exports(server_context& ctx, const request_context& rc);
awaitable<reply> delete_export(server_context& ctx, const request_context& rc);
awaitable<reply> export_status(server_context& ctx, const request_context& rc);
awaitable<reply> download_export(server_context& ctx, const request_context& rc);

// A job as its status route shows it (with keys, downloadUrl a signed link), as JSON text; the events
// carry the same.
std::string status_json(server_context& ctx, const engine::job_info& job);

} // namespace pgexport::http::handlers
