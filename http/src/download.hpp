#pragma once
// Downloads: which bytes of a finished file to send (Range, If-Range, ETag), and sending them with
// sendfile(2), so memory does not depend on the file's size.

#include "range.hpp"
#include "response.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

// A strong ETag for a completed export: the file never changes once its job has completed, and job ids
// are never reused, so the id and the size name the bytes.
std::string export_etag(std::string_view job_id, std::uint64_t size);

// What to send for a file of `size` bytes: parse_range's decision, except that an If-Range that is not
// this file's ETag (a date, another ETag, a weak one) means the client's copy is not this file: send all.
range_decision plan_download(std::optional<std::string_view> range, std::optional<std::string_view> if_range,
                             std::string_view etag, std::uint64_t size);

// The headers and the file of a download of `path` (already checked to be the job's finished file), sent
// as `file_name` (Content-Disposition) of `content_type`. A 416 when the range is outside the file.
reply download_reply(const request_t& req, std::string_view job_id, unique_fd fd, std::uint64_t size,
                     std::string_view file_name, std::string_view content_type);

// How slow a download reader may be before its connection is closed, so a reader that never reads cannot
// hold a connection (and a file) forever.
struct send_limits {
    std::chrono::steady_clock::duration stall_timeout = std::chrono::seconds(30); // no byte accepted
    std::uint64_t min_bytes_per_second = 4096; // on average, counted after the grace period
    std::chrono::steady_clock::duration grace = std::chrono::seconds(30);
};

// True when `sent` bytes after `elapsed` keep to the minimum rate.
bool keeps_min_rate(const send_limits& limits, std::uint64_t sent, std::chrono::steady_clock::duration elapsed);

// Sends `file` on `stream`'s socket. Throws system_error when the client goes away, or reads slower
// than `limits` allow (beast::error::timeout).
boost::asio::awaitable<void> send_file(boost::beast::tcp_stream& stream, const file_body& file,
                                       const send_limits& limits);

} // namespace pgexport::http
