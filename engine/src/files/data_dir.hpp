#pragma once
// The data directory: created private (0700), refused when others may write to it, and how much room its
// file system has left. judge_dir_mode and format_size are pure; the rest touches the file system.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace pgexport::engine::detail {

enum class dir_mode_verdict {
    ok,                 // only its owner can list or change it
    readable_by_others, // others can list the files' names (the files themselves are 0600): a warning
    writable_by_others, // others could replace or remove export files: refused
};

// What the permission bits of an existing data directory mean.
dir_mode_verdict judge_dir_mode(mode_t mode);

// Creates `dir` when absent (its parents with the default mode, itself with 0700) and checks it.
// Throws std::runtime_error naming the directory when it cannot be created, is not a directory, or is
// writable by its group or by others (with the chmod that fixes it). Returns its verdict otherwise
// (ok or readable_by_others), for the caller to log.
dir_mode_verdict prepare_data_dir(const std::filesystem::path& dir);

// Bytes that an unprivileged process may still write on `dir`'s file system (statvfs: f_bavail blocks of
// f_frsize bytes); nullopt when statvfs fails.
std::optional<std::uint64_t> free_space(const std::filesystem::path& dir);

// 1536 as "1.5 KiB", for messages.
std::string format_size(std::uint64_t bytes);

} // namespace pgexport::engine::detail
