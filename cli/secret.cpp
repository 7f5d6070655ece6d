#include "secret.hpp"

#include "file_io.hpp"
#include "options.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <stdexcept>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgexport::cli {

namespace {

// A larger file is not a secret someone meant to give.
constexpr std::size_t max_secret_bytes = 64 * 1024;

[[noreturn]] void fail(const fs::path& path, const std::string& what, int error) {
    throw std::runtime_error("secret file " + path.string() + ": " + what + ": " + std::strerror(error));
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
    auto [bytes, error, too_large] = read_all(fd, max_secret_bytes);
    if (error)
        fail(path, "cannot read it", error);
    if (too_large)
        throw std::runtime_error("secret file " + path.string() + " is larger than " +
                                 std::to_string(max_secret_bytes) + " bytes; is it the right file?");
    if (bytes.size() < min_secret_bytes)
        throw std::runtime_error("secret file " + path.string() + " holds " + std::to_string(bytes.size()) +
                                 " bytes; a secret needs at least " + std::to_string(min_secret_bytes) +
                                 " (write random ones, e.g. head -c 32 /dev/urandom > " + path.string() +
                                 "; a new secret invalidates links and the owners of existing jobs)");
    return bytes;
}

// Makes a new secret at `path`: written whole and synced under a temporary name, then linked to `path`,
// which fails with EEXIST rather than replace a secret another instance made meanwhile. Returns the new
// bytes, or nullopt when another instance won (its file is complete: it was synced before its link).
std::optional<std::string> create_secret(const fs::path& path, const std::function<std::string()>& make) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::error_code ec;
    if (fs::create_directories(dir, ec))
        fs::permissions(dir, fs::perms::owner_all, ec);
    if (ec)
        throw std::runtime_error("cannot create the directory " + dir.string() +
                                 " for the secret file: " + ec.message());

    std::string bytes(min_secret_bytes, '\0');
    if (make)
        bytes = make();
    else
        random_bytes(bytes.data(), bytes.size());
    const fs::path temp = temporary_name(dir / path.filename());
    struct remove_temp {
        const fs::path& p;
        ~remove_temp() { ::unlink(p.c_str()); }
    };
    {
        unique_fd fd = create_private_file(temp);
        if (!fd)
            fail(temp, "cannot create it", errno);
        remove_temp guard{temp};
        if (const int error = write_all(fd.get(), bytes))
            fail(temp, "cannot write it", error);
        if (::fsync(fd.get()) != 0)
            fail(temp, "cannot sync it", errno);
        if (::link(temp.c_str(), path.c_str()) != 0) {
            if (errno == EEXIST)
                return std::nullopt;
            fail(path, "cannot create it", errno);
        }
    }
    // The name must survive a crash as surely as the bytes.
    unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd)
        ::fsync(dir_fd.get());
    return bytes;
}

} // namespace

std::string load_or_create_secret(const fs::path& path, const std::function<std::string()>& make) {
    // A few rounds: the file may vanish between a lost race and the read (someone deleting it).
    for (int round = 0; round < 5; ++round) {
        unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd)
            return read_secret(fd.get(), path);
        if (errno != ENOENT)
            fail(path, "cannot open it", errno);
        if (auto created = create_secret(path, make))
            return *created;
    }
    throw std::runtime_error("secret file " + path.string() +
                             " keeps disappearing; is something deleting it?");
}

std::vector<std::string> parse_api_keys(std::string_view text) {
    std::vector<std::string> keys;
    for (const std::string_view line : setting_lines(text))
        keys.emplace_back(line);
    return keys;
}

std::vector<std::string> read_api_key_file(const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw std::runtime_error("cannot read the API key file " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw std::runtime_error("cannot read the API key file " + path.string() + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error("the API key file " + path.string() + " is not a regular file");
    // Keys are passwords: a file that any user may read (or write: add a key of their own) is refused.
    if (st.st_mode & S_IRWXO)
        throw std::runtime_error("the API key file " + path.string() + " is open to other users (mode " +
                                 octal_mode(st.st_mode) + "); run: chmod o-rwx " + path.string() +
                                 " (0600, or 0640 with the service's group)");
    auto [text, error, too_large] = read_all(fd.get(), std::size_t{16} << 20);
    if (error || too_large)
        throw std::runtime_error("cannot read the API key file " + path.string() + ": " +
                                 (error ? std::strerror(error) : "larger than 16 MiB"));
    auto keys = parse_api_keys(text);
    if (keys.empty())
        throw std::runtime_error(
            "the API key file " + path.string() +
            " names no key (one a line; blank lines and lines starting with # are skipped)");
    return keys;
}

} // namespace pgexport::cli
