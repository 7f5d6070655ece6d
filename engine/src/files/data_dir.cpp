#include "files/data_dir.hpp"

#include <cerrno>
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
