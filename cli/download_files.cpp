#include "download_files.hpp"

#include "http_client.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace pgexport::cli {

namespace {

// Why the file open at `fd` (found at `path`) is not ours to use; empty when it is.
std::string foreign_reason(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return std::string("cannot stat it: ") + std::strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "it is not a regular file";
    if (st.st_uid != ::geteuid())
        return "it belongs to another user (uid " + std::to_string(st.st_uid) + ")";
    return "";
}

std::string exists_message(const fs::path& output) {
    return output.string() + " exists; pgexport export never replaces a file unless given --force";
}

// An O_NOFOLLOW open that finds a link fails with ELOOP: say so.
std::string open_failure(int error) {
    return error == ELOOP ? "it is a symbolic link" : std::strerror(error);
}

} // namespace

partial_download::partial_download(const fs::path& output, std::string job_id)
    : part_(output.string() + ".part"), record_(output.string() + ".part.json"), job_id_(std::move(job_id)) {}

std::optional<part_record> partial_download::read_record() const {
    unique_fd fd(::open(record_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || !foreign_reason(fd.get()).empty())
        return std::nullopt;
    auto [text, error, too_large] = read_all(fd.get(), 64 * 1024);
    if (error || too_large)
        return std::nullopt;
    return parse_part_record(text);
}

partial_download::found partial_download::inspect_part() const {
    unique_fd fd(::open(part_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            return {};
        return {std::nullopt, open_failure(errno)};
    }
    if (auto why = foreign_reason(fd.get()); !why.empty())
        return {std::nullopt, why};
    struct stat st {};
    ::fstat(fd.get(), &st);
    return {static_cast<std::uint64_t>(st.st_size), ""};
}

void partial_download::write_record(const std::optional<std::string>& etag) const {
    if (const std::string why = replace_small_file(record_, format_part_record({job_id_, etag}));
        !why.empty())
        throw client_error(why);
}

unique_fd partial_download::open_part(std::uint64_t offset) const {
    if (offset == 0) {
        if (::unlink(part_.c_str()) != 0 && errno != ENOENT)
            throw client_error("cannot remove " + part_.string() + ": " + std::strerror(errno));
        unique_fd fd = create_private_file(part_);
        if (!fd)
            // Something was put at the name between the unlink and the open: never written through.
            throw client_error("cannot create " + part_.string() + ": " + std::strerror(errno));
        return fd;
    }
    unique_fd fd(::open(part_.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
        throw client_error("cannot open " + part_.string() + ": " + open_failure(errno));
    if (auto why = foreign_reason(fd.get()); !why.empty())
        throw client_error("cannot resume " + part_.string() + ": " + why);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != offset)
        throw client_error(part_.string() + " changed while it was being resumed");
    ::fchmod(fd.get(), 0600); // a part left by an older client may be open to others: the export is not
    return fd;
}

void partial_download::discard() const {
    ::unlink(record_.c_str());
    ::unlink(part_.c_str());
}

std::optional<std::string> refuse_existing_output(const fs::path& output, bool replace) {
    struct stat st {};
    if (replace || ::lstat(output.c_str(), &st) != 0)
        return std::nullopt;
    return exists_message(output);
}

void publish(const fs::path& part, const fs::path& output, bool replace) {
    if (replace) {
        if (::rename(part.c_str(), output.c_str()) != 0)
            throw client_error("cannot rename " + part.string() + " to " + output.string() + ": " +
                               std::strerror(errno));
        return;
    }
    // Fails when anything is at `output`, also when it appeared since the export began.
    if (::renameat2(AT_FDCWD, part.c_str(), AT_FDCWD, output.c_str(), RENAME_NOREPLACE) == 0)
        return;
    if (errno == EINVAL || errno == ENOSYS) { // a file system without RENAME_NOREPLACE: link, then unlink
        if (::link(part.c_str(), output.c_str()) == 0) {
            ::unlink(part.c_str());
            return;
        }
    }
    if (errno == EEXIST)
        throw client_error(exists_message(output) + " (the download is kept in " + part.string() + ")", 2);
    throw client_error("cannot rename " + part.string() + " to " + output.string() + ": " + std::strerror(errno));
}

} // namespace pgexport::cli
