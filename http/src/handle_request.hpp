#pragma once
// One request in, one reply out: the checks every request passes, then the route table.

#include "context.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>

namespace pgexport::http {

boost::asio::awaitable<reply> handle_request(server_context& ctx, const request_t& req, std::string peer_address);

} // namespace pgexport::http
