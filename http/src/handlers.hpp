#pragma once
// The API's handlers, one per route (the route table is in handle_request.cpp).

#include "context.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::http::handlers {

using boost::asio::awaitable;

awaitable<reply> healthz(server_context& ctx, const request_context& rc);
awaitable<reply> metrics(server_context& ctx, const request_context& rc);
awaitable<reply> openapi(server_context& ctx, const request_context& rc);
awaitable<reply> records(server_context& ctx, const request_context& rc);
awaitable<reply> create_export(server_context& ctx, const request_context& rc);
awaitable<reply> list_exports(server_context& ctx, const request_context& rc);
awaitable<reply> delete_export(server_context& ctx, const request_context& rc);
awaitable<reply> export_status(server_context& ctx, const request_context& rc);
awaitable<reply> download_export(server_context& ctx, const request_context& rc);

} // namespace pgexport::http::handlers
