#include "files/file_writer.hpp"

#include "format/gzip_member.hpp"
#include "util/offload.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

void fsync_directory(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw_errno("cannot open directory", dir);
    const int rc = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    if (rc != 0) {
        errno = saved;
        throw_errno("cannot fsync directory", dir);
    }
}

} // namespace

int open_private(const std::filesystem::path& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        throw_errno("cannot open", path);
    // A file left by an older version may be 0644: a table dump is its owner's alone.
    if (::fchmod(fd, 0600) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        throw_errno("cannot chmod", path);
    }
    return fd;
}

struct file_writer::shared {
    shared(asio::any_io_executor ex, std::filesystem::path p) : path(std::move(p)), wake(std::move(ex)) {}
    ~shared() {
        if (fd >= 0)
            ::close(fd);
    }
    std::filesystem::path path;
    int fd = -1;
    asio::steady_timer wake; // cancelled when the write in flight ends
    bool writing = false;
    std::exception_ptr error;
    // gzip only, touched by the write in flight alone (writes run one at a time): the compressor, the
    // compressed buffer it fills, and the file's length.
    std::unique_ptr<gzip_member_writer> gzip;
    std::string compressed;
    std::int64_t end = 0;
    std::int64_t written_end = 0; // `end` as of the last finished write, read on the executor
};

file_writer::file_writer(asio::any_io_executor executor, asio::thread_pool& pool, std::filesystem::path path,
                         std::int64_t length, std::size_t capacity, bool gzip)
    : pool_(pool), shared_(std::make_shared<shared>(std::move(executor), std::move(path))), offset_(length),
      capacity_(capacity), gzip_(gzip) {
    const auto& p = shared_->path;
    shared_->fd = open_private(p, O_WRONLY);
    if (::ftruncate(shared_->fd, length) != 0)
        throw_errno("cannot truncate", p);
    if (gzip_) {
        shared_->gzip = std::make_unique<gzip_member_writer>();
        shared_->end = shared_->written_end = length;
    }
    buffer_.reserve(capacity_);
}

std::int64_t file_writer::size() const noexcept {
    if (gzip_)
        return shared_->written_end;
    return offset_ + static_cast<std::int64_t>(buffer_.size());
}

file_writer::~file_writer() = default;

std::int64_t file_writer::length_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return -1;
    return st.st_size;
}

bool file_writer::append(std::string_view data) {
    if (!data.empty())
        member_open_ = true;
    buffer_.append(data);
    return buffer_.size() >= capacity_;
}

asio::awaitable<void> file_writer::async_settle() {
    while (shared_->writing) {
        shared_->wake.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await shared_->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> file_writer::async_wait_idle() {
    co_await async_settle();
    if (shared_->error)
        std::rethrow_exception(shared_->error);
}

asio::awaitable<void> file_writer::async_write_behind() {
    co_await async_write_out(false);
}

asio::awaitable<void> file_writer::async_write_out(bool end_member) {
    co_await async_wait_idle();
    if (gzip_) {
        // A member ends where something was appended since the last one ended, and an empty file gets an
        // empty member, so that even an export of nothing is a valid gzip file.
        end_member = end_member && (member_open_ || shared_->written_end == 0);
        if (end_member)
            member_open_ = false;
    } else {
        end_member = false;
    }
    if (buffer_.empty() && !end_member)
        co_return;
    // Reuse the previous write's buffer when that write has let go of it.
    if (!in_flight_ || in_flight_.use_count() > 1)
        in_flight_ = std::make_shared<std::string>();
    in_flight_->swap(buffer_);
    buffer_.clear();
    const off_t at = static_cast<off_t>(offset_);
    offset_ += static_cast<std::int64_t>(in_flight_->size());
    shared_->writing = true;
    asio::post(pool_, [state = shared_, data = in_flight_, at, end_member] {
        std::exception_ptr error;
        std::string_view out = *data;
        off_t to = at;
        try {
            if (state->gzip) {
                state->compressed.clear();
                state->gzip->write(*data, state->compressed);
                if (end_member)
                    state->gzip->finish(state->compressed);
                out = state->compressed;
                to = static_cast<off_t>(state->end);
            }
        } catch (...) {
            error = std::current_exception();
            out = {};
        }
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = ::pwrite(state->fd, out.data() + done, out.size() - done, to + static_cast<off_t>(done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                try {
                    throw_errno("cannot write", state->path);
                } catch (...) {
                    error = std::current_exception();
                }
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        state->end += static_cast<std::int64_t>(done);
        const std::int64_t end = state->end;
        // A large buffer is not kept between writes: memory stays at about one buffer's worth.
        if (state->compressed.capacity() > (8u << 20))
            std::string().swap(state->compressed);
        asio::post(state->wake.get_executor(), [state, error, end] {
            state->writing = false;
            state->written_end = end;
            if (error && !state->error)
                state->error = error;
            state->wake.cancel();
        });
    });
}

asio::awaitable<void> file_writer::async_flush() {
    co_await async_write_out(true);
    co_await async_wait_idle();
}

asio::awaitable<void> file_writer::async_sync() {
    co_await async_flush();
    co_await async_datasync();
}

asio::awaitable<void> file_writer::async_datasync() {
    // Named, not a temporary in the co_await: GCC 12 destroys capturing lambda temporaries there twice.
    auto sync = [state = shared_] {
        if (::fdatasync(state->fd) != 0)
            throw_errno("cannot fsync", state->path);
    };
    co_await async_offload(pool_, std::move(sync));
}

namespace {

struct fd_closer {
    int fd;
    ~fd_closer() {
        if (fd >= 0)
            ::close(fd);
    }
};

// Copies bytes [from_offset, end) of `from` to `out` at *out_offset (advanced), in the kernel
// (copy_file_range: a reflink where the file system can, never a round trip through user space).
void copy_range(const std::filesystem::path& from, std::int64_t from_offset, std::int64_t end, int out,
                off64_t& out_offset, const std::filesystem::path& to) {
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        throw_errno("cannot open", from);
    fd_closer close_in{in};
    off64_t in_offset = from_offset;
    while (in_offset < end) {
        const ssize_t n = ::copy_file_range(in, &in_offset, out, &out_offset, static_cast<std::size_t>(end - in_offset), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("cannot copy " + from.string() + " to", to);
        if (n == 0)
            throw std::system_error(EIO, std::generic_category(), "cannot copy " + from.string() +
                                                                      ": it ended before the checkpoint");
    }
}

} // namespace

void copy_prefix(const std::filesystem::path& from, const std::filesystem::path& to, std::int64_t bytes,
                 std::int64_t hole) {
    const int out = open_private(to, O_WRONLY | O_TRUNC);
    fd_closer close_out{out};
    hole = std::clamp(hole, std::int64_t{0}, bytes);
    off64_t out_offset = hole;
    if (hole < bytes)
        copy_range(from, hole, bytes, out, out_offset, to);
    else if (::ftruncate(out, bytes) != 0) // all hole: the length alone
        throw_errno("cannot extend", to);
    if (::fdatasync(out) != 0)
        throw_errno("cannot fsync", to);
}

void concatenate(const std::vector<file_part>& parts, const std::filesystem::path& to, std::string_view tail) {
    const int out = open_private(to, O_WRONLY | O_TRUNC);
    fd_closer close_out{out};
    off64_t out_offset = 0;
    for (const auto& part : parts)
        if (part.to > part.from) // a part that has no bytes may have no file either
            copy_range(part.path, part.from, part.to, out, out_offset, to);
    while (!tail.empty()) {
        const ssize_t n = ::pwrite(out, tail.data(), tail.size(), out_offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("cannot write", to);
        tail.remove_prefix(static_cast<std::size_t>(n));
        out_offset += n;
    }
    if (::fdatasync(out) != 0)
        throw_errno("cannot fsync", to);
}

bool punch_hole(const std::filesystem::path& path, std::int64_t offset, std::int64_t length) {
    if (length <= 0)
        return true;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        throw_errno("cannot open", path);
    fd_closer close_fd{fd};
    if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length)) == 0)
        return true;
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        return false;
    throw_errno("cannot free the uploaded bytes of", path);
}

std::int64_t link_unless_exists(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::int64_t existing = -1;
    if (::link(from.c_str(), to.c_str()) != 0) {
        if (errno != EEXIST)
            throw_errno("cannot link " + from.string() + " to", to);
        existing = file_writer::length_of(to);
    }
    fsync_directory(to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path());
    return existing;
}

} // namespace pgexport::engine::detail
