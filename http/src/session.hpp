#pragma once
// One connection: read a request (with a deadline), handle it, write the reply, again while kept alive.

#include "context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace pgexport::http {

boost::asio::awaitable<void> run_session(std::shared_ptr<server_context> ctx, boost::asio::ip::tcp::socket socket);

} // namespace pgexport::http
