#pragma once
// LISTEN on a channel, on an asynchronous connection of its own: the way an instance hears at once of work
// another instance (or itself) made, with polling as the fallback while it cannot listen.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>

#include <functional>
#include <string>

namespace pgexport::engine::detail {

// Listens on `channel` and calls wake() at each notification, and once after each (re)connect (for
// anything sent while nobody listened); after a lost or refused connection, tries again 2 s later. Ends
// once `stopping` is true: set it, then cancel the coroutine through its slot (terminal) to end the wait
// it is in.
boost::asio::awaitable<void> async_listen(boost::asio::any_io_executor executor, std::string database_url,
                                          std::chrono::milliseconds connect_timeout, std::string channel,
                                          std::function<void()> wake, const bool& stopping);

} // namespace pgexport::engine::detail
