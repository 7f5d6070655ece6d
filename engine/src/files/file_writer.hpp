#pragma once
// Appends to an export file through a bounded buffer; the writes and fsyncs run on a thread pool so
// the event loop never waits on the disk.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgexport::engine::detail {

// Writes are double-buffered: while one full buffer is written on the pool, the next one fills, so the
// database socket keeps being read. At most two buffers exist; a third append waits for the write in
// flight (that wait is the backpressure).
//
// With gzip, each buffer is compressed on the pool too, just before its write (the event loop never
// compresses), and every flush ends a gzip member: the file is then a whole gzip stream of the bytes
// appended, and its length (size()) a member boundary that a checkpoint may record and a resume truncate
// to. Memory stays bounded: zlib's state and one compressed buffer besides the two.
class file_writer {
public:
    // Opens `path` for writing (creating it) and cuts it to `length` bytes, where appends then start.
    // Completions come back on `executor`. Throws std::system_error naming the file.
    file_writer(boost::asio::any_io_executor executor, boost::asio::thread_pool& pool,
                std::filesystem::path path, std::int64_t length, std::size_t capacity, bool gzip = false);
    // Safe while a write is in flight: the write keeps the descriptor and its buffer alive.
    ~file_writer();
    file_writer(const file_writer&) = delete;
    file_writer& operator=(const file_writer&) = delete;

    // The file's current length on disk, -1 when it does not exist (a symbolic link is not followed).
    static std::int64_t length_of(const std::filesystem::path& path);

    // Buffers `data`; true when the buffer is full and async_write_behind should be awaited.
    bool append(std::string_view data);

    // Starts writing the buffer on the pool once the previous write is done, and returns without waiting
    // for this one. Rethrows the failure of an earlier write (std::system_error: ENOSPC, EFBIG, EIO...).
    boost::asio::awaitable<void> async_write_behind();

    // Writes out everything appended and waits: afterwards the file holds size() bytes. With gzip it ends
    // the member in progress (and writes an empty member into a file that would be empty otherwise).
    boost::asio::awaitable<void> async_flush();

    // Flushes, then fdatasync: afterwards every appended byte is on disk.
    boost::asio::awaitable<void> async_sync();

    // fdatasync alone: makes durable what earlier flushes wrote. May run while appends and a write
    // behind continue (it touches neither).
    boost::asio::awaitable<void> async_datasync();

    // Waits until no write is in flight, ignoring its outcome (for failure paths).
    boost::asio::awaitable<void> async_settle();

    // Bytes appended so far, written or not: the file's length once flushed. With gzip, the compressed
    // bytes written so far (exact once flushed).
    std::int64_t size() const noexcept;

private:
    struct shared; // the descriptor and the state of the write in flight, shared with that write
    boost::asio::awaitable<void> async_wait_idle();
    boost::asio::awaitable<void> async_write_out(bool end_member);

    boost::asio::thread_pool& pool_;
    std::shared_ptr<shared> shared_;
    std::int64_t offset_ = 0; // bytes handed to writes (done or in flight)
    std::size_t capacity_;
    std::string buffer_;
    std::shared_ptr<std::string> in_flight_;
    bool gzip_ = false;
    bool member_open_ = false; // gzip: bytes appended since the last member ended
};

// Opens `path` with `flags` (O_WRONLY, O_TRUNC...), creating it with mode 0600, never through a symbolic
// link (O_NOFOLLOW: ELOOP), and makes an existing file 0600 too. Returns the descriptor, the caller's to
// close. Throws std::system_error naming the file (EMFILE and ENFILE included: the caller's retry).
int open_private(const std::filesystem::path& path, int flags);

// Writes the first `bytes` bytes of `from` to a new file `to` (replacing it) and fdatasyncs it, but its
// first `hole` bytes, which stay a hole (they are in object storage already, and `from` may no longer hold
// them). Throws std::system_error, also when `from` is shorter.
void copy_prefix(const std::filesystem::path& from, const std::filesystem::path& to, std::int64_t bytes,
                 std::int64_t hole = 0);

// Bytes [from, to) of the file `path`.
struct file_part {
    std::filesystem::path path;
    std::int64_t from = 0;
    std::int64_t to = 0;
};

// Writes each part, in order, to a new file `to` (replacing it), in the kernel (copy_file_range), then
// `tail`, and fdatasyncs it: a parallel job's slices into the file it publishes (a Parquet file's footer
// last). A part of no bytes needs no file. Throws std::system_error, also when a part's file is shorter.
void concatenate(const std::vector<file_part>& parts, const std::filesystem::path& to, std::string_view tail = {});

// Frees the disk blocks of bytes [offset, offset + length) of `path`, which read as zeros afterwards; its
// length stays. False when the file system cannot (the bytes stay on disk). Throws std::system_error.
bool punch_hole(const std::filesystem::path& path, std::int64_t offset, std::int64_t length);

// Gives the file `from` the name `to` too (link(2)), never replacing a file named `to`, then fsyncs the
// directory. Returns -1 when the link was made, else the length of the file that was there already
// (which is left as it is). Blocking; throws std::system_error.
std::int64_t link_unless_exists(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace pgexport::engine::detail
