#include "files/data_dir.hpp"

#include <cerrno>
#include <fstream>
#include <random>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace fs = std::filesystem;

namespace pgexport::engine::detail {

dir_mode_verdict judge_dir_mode(mode_t mode) {
    if (mode & (S_IWGRP | S_IWOTH))
        return dir_mode_verdict::writable_by_others;
    if (mode & (S_IRGRP | S_IROTH))
        return dir_mode_verdict::readable_by_others;
    return dir_mode_verdict::ok;
}

dir_mode_verdict prepare_data_dir(const fs::path& dir) {
    const std::string name = dir.string();
    auto fail = [&](const std::string& why) {
        throw std::runtime_error("cannot use the data directory " + name + ": " + why);
    };
    std::error_code ec;
    if (dir.has_parent_path() && !fs::is_directory(dir.parent_path(), ec)) {
        fs::create_directories(dir.parent_path(), ec);
        if (ec)
            fail(ec.message());
    }
    // The directory itself is made private from the start, never created open and tightened later.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail(std::strerror(errno));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        fail(std::strerror(errno));
    if (!S_ISDIR(st.st_mode))
        fail("Not a directory");
    const dir_mode_verdict verdict = judge_dir_mode(st.st_mode);
    if (verdict == dir_mode_verdict::writable_by_others) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        fail(std::string("it is writable by its group or by others (mode ") + mode +
             "), who could replace or remove export files; run chmod 700 " + name + " or choose another --data-dir");
    }
    return verdict;
}

namespace {

std::string read_id(const fs::path& file) {
    std::ifstream in(file);
    std::string id;
    std::getline(in, id);
    return id;
}

bool plausible_id(const std::string& id) {
    return id.size() >= 8 && id.size() <= 64 &&
           id.find_first_not_of("0123456789abcdef-") == std::string::npos;
}

} // namespace

std::string data_dir_id(const fs::path& dir) {
    const fs::path file = dir / ".pgexport-id";
    std::string id = read_id(file);
    if (plausible_id(id))
        return id;
    std::error_code ec;
    if (fs::exists(file, ec))
        throw std::runtime_error("the data directory's id file " + file.string() +
                                 " is unreadable; remove it only if no job of this directory is queued or running");
    // Written whole under a name of our own, then linked: the link never replaces an id another instance
    // wrote first, and nobody ever reads a half-written one.
    std::random_device random;
    char text[40];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%04x%08x", random(), random() & 0xffff,
                  (random() & 0x0fff) | 0x4000, (random() & 0x3fff) | 0x8000, random() & 0xffff, random());
    const fs::path temp = dir / (".pgexport-id." + std::to_string(::getpid()) + ".tmp");
    {
        std::ofstream out(temp, std::ios::trunc);
        out << text << "\n";
        out.flush();
        if (!out)
            throw std::runtime_error("cannot write " + temp.string());
    }
    const int linked = ::link(temp.c_str(), file.c_str());
    const int link_errno = errno;
    fs::remove(temp, ec);
    if (linked != 0 && link_errno != EEXIST)
        throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(link_errno));
    id = read_id(file);
    if (!plausible_id(id))
        throw std::runtime_error("the data directory's id file " + file.string() + " is unreadable");
    return id;
}

std::optional<std::uint64_t> free_space(const fs::path& dir) {
    struct statvfs s {};
    if (::statvfs(dir.c_str(), &s) != 0)
        return std::nullopt;
    return static_cast<std::uint64_t>(s.f_bavail) * static_cast<std::uint64_t>(s.f_frsize);
}

std::string format_size(std::uint64_t bytes) {
    if (bytes < 1024)
        return std::to_string(bytes) + " bytes";
    constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

} // namespace pgexport::engine::detail
