#include "secret.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgexport::cli {

namespace {

// A larger file is not a secret someone meant to give.
constexpr std::size_t max_secret_bytes = 64 * 1024;

struct unique_fd {
    int fd = -1;
    explicit unique_fd(int f) : fd(f) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

[[noreturn]] void fail(const fs::path& path, const std::string& what, int error) {
    throw std::runtime_error("secret file " + path.string() + ": " + what + ": " + std::strerror(error));
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// The bytes of an open secret file, after checking that nobody but its owner can get at them.
std::string read_secret(int fd, const fs::path& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        fail(path, "cannot stat it", errno);
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error("secret file " + path.string() + " is not a regular file");
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        throw std::runtime_error("secret file " + path.string() + " is open to group or others (mode " +
                                 octal_mode(st.st_mode) + "); run: chmod 600 " + path.string());
    std::string bytes;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(path, "cannot read it", errno);
        if (n == 0)
            break;
        bytes.append(buffer, static_cast<std::size_t>(n));
        if (bytes.size() > max_secret_bytes)
            throw std::runtime_error("secret file " + path.string() + " is larger than " +
                                     std::to_string(max_secret_bytes) + " bytes; is it the right file?");
    }
    if (bytes.size() < min_secret_bytes)
        throw std::runtime_error("secret file " + path.string() + " holds " + std::to_string(bytes.size()) +
                                 " bytes; a secret needs at least " + std::to_string(min_secret_bytes) +
                                 " (write random ones, e.g. head -c 32 /dev/urandom > " + path.string() +
                                 "; a new secret invalidates links and the owners of existing jobs)");
    return bytes;
}

void random_bytes(char* out, std::size_t n) {
    while (n > 0) {
        const ssize_t got = ::getrandom(out, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            throw std::runtime_error(std::string("cannot get random bytes for a new secret: ") +
                                     std::strerror(errno));
        out += got;
        n -= static_cast<std::size_t>(got);
    }
}

void write_all(int fd, const std::string& bytes, const fs::path& path) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(path, "cannot write it", errno);
        done += static_cast<std::size_t>(n);
    }
}

// Makes a new secret at `path`: written whole and synced under a temporary name, then linked to `path`,
// which fails with EEXIST rather than replace a secret another instance made meanwhile. Returns the new
// bytes, or nullopt when another instance won (its file is complete: it was synced before its link).
std::optional<std::string> create_secret(const fs::path& path) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::error_code ec;
    if (fs::create_directories(dir, ec))
        fs::permissions(dir, fs::perms::owner_all, ec);
    if (ec)
        throw std::runtime_error("cannot create the directory " + dir.string() +
                                 " for the secret file: " + ec.message());

    std::string bytes(min_secret_bytes, '\0');
    random_bytes(bytes.data(), bytes.size());
    // A name no other process or thread picks: the pid and random digits.
    unsigned char tag[6];
    random_bytes(reinterpret_cast<char*>(tag), sizeof tag);
    char suffix[40];
    std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%02x%02x%02x%02x%02x%02x", static_cast<long>(::getpid()),
                  tag[0], tag[1], tag[2], tag[3], tag[4], tag[5]);
    const fs::path temp = dir / (path.filename().string() + suffix);
    struct remove_temp {
        const fs::path& p;
        ~remove_temp() { ::unlink(p.c_str()); }
    };
    {
        unique_fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd.fd < 0)
            fail(temp, "cannot create it", errno);
        remove_temp guard{temp};
        if (::fchmod(fd.fd, 0600) != 0) // whatever the umask
            fail(temp, "cannot set its mode", errno);
        write_all(fd.fd, bytes, temp);
        if (::fsync(fd.fd) != 0)
            fail(temp, "cannot sync it", errno);
        if (::link(temp.c_str(), path.c_str()) != 0) {
            if (errno == EEXIST)
                return std::nullopt;
            fail(path, "cannot create it", errno);
        }
    }
    // The name must survive a crash as surely as the bytes.
    unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.fd >= 0)
        ::fsync(dir_fd.fd);
    return bytes;
}

} // namespace

std::string load_or_create_secret(const fs::path& path) {
    // A few rounds: the file may vanish between a lost race and the read (someone deleting it).
    for (int round = 0; round < 5; ++round) {
        unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.fd >= 0)
            return read_secret(fd.fd, path);
        if (errno != ENOENT)
            fail(path, "cannot open it", errno);
        if (auto created = create_secret(path))
            return *created;
    }
    throw std::runtime_error("secret file " + path.string() +
                             " keeps disappearing; is something deleting it?");
}

std::vector<std::string> parse_api_keys(std::string_view text) {
    std::vector<std::string> keys;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        constexpr std::string_view blanks = " \t\r";
        const auto first = line.find_first_not_of(blanks);
        if (first == std::string_view::npos)
            continue;
        line = line.substr(first, line.find_last_not_of(blanks) - first + 1);
        if (line.front() == '#')
            continue;
        keys.emplace_back(line);
    }
    return keys;
}

std::vector<std::string> read_api_key_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read the API key file " + path.string() + ": " +
                                 std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        throw std::runtime_error("cannot read the API key file " + path.string());
    auto keys = parse_api_keys(text.str());
    if (keys.empty())
        throw std::runtime_error(
            "the API key file " + path.string() +
            " names no key (one a line; blank lines and lines starting with # are skipped)");
    return keys;
}

} // namespace pgexport::cli
