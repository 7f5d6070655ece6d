#include "file_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgexport::cli {

int write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

read_outcome read_all(int fd, std::size_t limit) {
    read_outcome out;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            out.error = errno;
            return out;
        }
        if (n == 0)
            return out;
        out.bytes.append(buffer, static_cast<std::size_t>(n));
        if (out.bytes.size() > limit) {
            out.too_large = true;
            return out;
        }
    }
}

void random_bytes(char* out, std::size_t n) {
    while (n > 0) {
        const ssize_t got = ::getrandom(out, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            throw std::runtime_error(std::string("cannot get random bytes: ") + std::strerror(errno));
        out += got;
        n -= static_cast<std::size_t>(got);
    }
}

fs::path temporary_name(const fs::path& path) {
    unsigned char tag[6];
    random_bytes(reinterpret_cast<char*>(tag), sizeof tag);
    char suffix[40];
    std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%02x%02x%02x%02x%02x%02x", static_cast<long>(::getpid()),
                  tag[0], tag[1], tag[2], tag[3], tag[4], tag[5]);
    return path.string() + suffix;
}

unique_fd create_private_file(const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd && ::fchmod(fd.get(), 0600) != 0) { // the umask may have taken bits away, never added any
        const int error = errno;
        ::unlink(path.c_str());
        errno = error;
        return unique_fd();
    }
    return fd;
}

std::string octal_mode(unsigned mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
}

std::string replace_small_file(const fs::path& path, std::string_view bytes) {
    const fs::path temp = temporary_name(path);
    unique_fd fd = create_private_file(temp);
    if (!fd)
        return "cannot create " + temp.string() + ": " + std::strerror(errno);
    if (const int error = write_all(fd.get(), bytes)) {
        ::unlink(temp.c_str());
        return "cannot write " + temp.string() + ": " + std::strerror(error);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        return "cannot write " + path.string() + ": " + std::strerror(error);
    }
    return "";
}

} // namespace pgexport::cli
