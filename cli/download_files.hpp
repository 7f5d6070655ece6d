#pragma once
// The files of a download: <output>.part, its record <output>.part.json (download_resume.hpp), and the
// move of a finished part to <output>. Safe in a directory other users write to (/tmp): nothing found at
// these names is followed or written through (every open is O_NOFOLLOW, and a name's file must be a
// regular file of this user), new files are created exclusively with mode 0600 whatever the umask, and
// <output> is replaced only when asked to.

#include "download_resume.hpp"
#include "file_io.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace pgexport::cli {

class partial_download {
public:
    partial_download(const std::filesystem::path& output, std::string job_id);

    const std::filesystem::path& part() const { return part_; }
    const std::filesystem::path& record_path() const { return record_; }

    // The record, or nullopt when there is none, it is not a regular file of this user, or it is not a
    // record.
    std::optional<part_record> read_record() const;

    // The part as found: its size, or why it may not be used (a link, another user's, not a regular
    // file); neither when there is none.
    struct found {
        std::optional<std::uint64_t> size;
        std::string foreign; // why it is not ours to resume; empty when it is (or there is none)
    };
    found inspect_part() const;

    // Replaces the record whole: a new file of a name no one else can have chosen, renamed over it.
    // Throws client_error.
    void write_record(const std::optional<std::string>& etag) const;

    // The part, open for writing: at offset 0 a new empty file (whatever was at its name is removed
    // first, then the name is created exclusively); at `offset` > 0 the part as it is, which must be a
    // regular file of this user holding exactly `offset` bytes (appended to). Throws client_error.
    unique_fd open_part(std::uint64_t offset) const;

    // Forgets the part: the record first, so a part is never left with a record it does not match. An
    // unlink removes a link, never what it points to.
    void discard() const;

private:
    std::filesystem::path part_;
    std::filesystem::path record_;
    std::string job_id_;
};

// Gives the finished `part` the name `output`. An existing `output` is replaced only when `replace`
// (else client_error with exit code 2); either way the name itself is replaced, never a file that a link
// there points to.
void publish(const std::filesystem::path& part, const std::filesystem::path& output, bool replace);

// When `output` exists (a file, a link, anything) and may not be replaced: the message to refuse with.
std::optional<std::string> refuse_existing_output(const std::filesystem::path& output, bool replace);

} // namespace pgexport::cli
