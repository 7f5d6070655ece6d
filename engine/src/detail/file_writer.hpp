#pragma once
// Appends to an export file through a bounded buffer; the writes and fsyncs run on a thread pool so
// the event loop never waits on the disk.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

class file_writer {
public:
    // Opens `path` for writing (creating it) and cuts it to `length` bytes, where appends then start.
    // Throws std::system_error naming the file.
    file_writer(boost::asio::thread_pool& pool, std::filesystem::path path, std::int64_t length,
                std::size_t capacity);
    ~file_writer();
    file_writer(const file_writer&) = delete;
    file_writer& operator=(const file_writer&) = delete;

    // The file's current length on disk.
    static std::int64_t length_of(const std::filesystem::path& path);

    // Buffers `data`; true when the buffer is full and async_flush should be awaited.
    bool append(std::string_view data);

    // Writes out the buffer (on the pool). Throws std::system_error (ENOSPC, EFBIG, EIO...).
    boost::asio::awaitable<void> async_flush();

    // Flushes, then fdatasync: afterwards every appended byte is on disk.
    boost::asio::awaitable<void> async_sync();

    // fdatasync alone: makes durable what earlier flushes wrote. May run while appends continue
    // (it does not touch the buffer).
    boost::asio::awaitable<void> async_datasync();

    // Bytes appended so far, written or still buffered: the file's length once flushed.
    std::int64_t size() const noexcept { return offset_ + static_cast<std::int64_t>(buffer_.size()); }

private:
    boost::asio::thread_pool& pool_;
    std::filesystem::path path_;
    int fd_ = -1;
    std::int64_t offset_ = 0; // bytes on disk
    std::size_t capacity_;
    std::string buffer_;
};

// Renames `from` to `to` and fsyncs their directory, so the rename survives a crash.
void durable_rename(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace pgexport::engine::detail
