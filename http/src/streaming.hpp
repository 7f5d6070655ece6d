#pragma once
// Sending a reply whose body a coroutine writes as it goes (reply::stream): the header, then each piece as
// a chunk, while the client's side of the connection is watched, so that a client that goes away ends the
// stream at once instead of at the next write.

#include "response.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>

namespace pgexport::http {

// Sends `r` (r.stream set) on `stream`; the header alone for HEAD. Marks the response not keep-alive: the
// connection closes after it. Each write must be taken within `write_timeout`. Throws system_error when
// the client goes away mid-write or reads too slowly.
boost::asio::awaitable<void> send_stream(boost::beast::tcp_stream& stream, reply& r, bool head_only,
                                         std::chrono::steady_clock::duration write_timeout);

} // namespace pgexport::http
