#pragma once
// File descriptors and the few system calls the CLI's files need (the secret, the key file, a download's
// part and its record), each in one place.

#include <pgexport/shared/unique_fd.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::cli {

using engine::detail::unique_fd;

// Writes all of `data` (again after EINTR); 0, or the errno of the write that failed.
int write_all(int fd, std::string_view data);

// The rest of the file behind `fd`; `error` is the errno of a read that failed, `too_large` says it had
// more than `limit` bytes (then `bytes` holds what was read so far).
struct read_outcome {
    std::string bytes;
    int error = 0;
    bool too_large = false;
};
read_outcome read_all(int fd, std::size_t limit);

// `n` random bytes from the kernel. Throws std::runtime_error.
void random_bytes(char* out, std::size_t n);

// A name beside `path` that no other process picks: "<path>.tmp-<pid>-<12 random hex digits>".
std::filesystem::path temporary_name(const std::filesystem::path& path);

// Creates `path` for writing, only if nothing is there (no link is followed), with mode 0600 whatever the
// umask. An invalid descriptor, with errno set, when it cannot.
unique_fd create_private_file(const std::filesystem::path& path);

// Replaces `path` by a file of `bytes` (mode 0600) in one step: written beside it under a temporary_name,
// then renamed over it, so a reader sees the old file or the new one whole. "" when done, else why not.
std::string replace_small_file(const std::filesystem::path& path, std::string_view bytes);

// "0644".
std::string octal_mode(unsigned mode);

} // namespace pgexport::cli
