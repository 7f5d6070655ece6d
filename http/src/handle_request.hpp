#pragma once
// One request in, one reply out: the checks every request passes, then the route table.

#include "context.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::http {

// Who sent `req` over a connection from `peer` (--trusted-proxy: the client a trusted proxy names).
client_info identify_client(const server_context& ctx, std::string_view peer, const request_t& req);

boost::asio::awaitable<reply> handle_request(server_context& ctx, const request_t& req, client_info client);

} // namespace pgexport::http
