#include "detail/file_writer.hpp"

#include "detail/offload.hpp"

#include <cerrno>
#include <fcntl.h>
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

file_writer::file_writer(asio::thread_pool& pool, std::filesystem::path path, std::int64_t length,
                         std::size_t capacity)
    : pool_(pool), path_(std::move(path)), offset_(length), capacity_(capacity) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw_errno("cannot open", path_);
    if (::ftruncate(fd_, length) != 0) {
        const int saved = errno;
        ::close(fd_);
        errno = saved;
        throw_errno("cannot truncate", path_);
    }
    buffer_.reserve(capacity_);
}

file_writer::~file_writer() {
    if (fd_ >= 0)
        ::close(fd_);
}

std::int64_t file_writer::length_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return -1;
    return st.st_size;
}

bool file_writer::append(std::string_view data) {
    buffer_.append(data);
    return buffer_.size() >= capacity_;
}

asio::awaitable<void> file_writer::async_flush() {
    if (buffer_.empty())
        co_return;
    co_await async_offload(pool_, [this] {
            std::size_t done = 0;
            while (done < buffer_.size()) {
                ssize_t n = ::pwrite(fd_, buffer_.data() + done, buffer_.size() - done,
                                     static_cast<off_t>(offset_) + static_cast<off_t>(done));
                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    throw_errno("cannot write", path_);
                }
                done += static_cast<std::size_t>(n);
            }
        });
    offset_ += static_cast<std::int64_t>(buffer_.size());
    buffer_.clear();
}

asio::awaitable<void> file_writer::async_sync() {
    co_await async_flush();
    co_await async_datasync();
}

asio::awaitable<void> file_writer::async_datasync() {
    co_await async_offload(pool_, [this] {
        if (::fdatasync(fd_) != 0)
            throw_errno("cannot fsync", path_);
    });
}

void durable_rename(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
        throw_errno("cannot rename " + from.string() + " to", to);
    fsync_directory(to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path());
}

} // namespace pgexport::engine::detail
