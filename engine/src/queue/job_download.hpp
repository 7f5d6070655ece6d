#pragma once
// A completed job's export as a download: checked against this instance's storage, then its file opened
// (never through a symbolic link) or, in object storage, a presigned URL.

#include "runtime/engine_state.hpp"

#include <pgexport/engine.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace pgexport::engine::detail {

// See export_engine::async_open_download.
boost::asio::awaitable<result<export_download>> async_open_download(engine_state& state, const job_info& job,
                                                                   std::chrono::seconds ttl);

} // namespace pgexport::engine::detail
