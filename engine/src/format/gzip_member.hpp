#pragma once
// gzip compression of an export file, one gzip member per chunk. Pure: no I/O.
//
// RFC 1952 lets members follow one another: every standard reader (gzip -dc, zcat, Python's gzip)
// decompresses a file of several members to the concatenation of their contents. Ending a member at each
// chunk makes every checkpoint a member boundary, so a resume truncates the file there and goes on with a
// new member, and the file still decompresses to exactly the uncompressed export.

#include <memory>
#include <string>
#include <string_view>

namespace pgexport::engine::detail {

// The deflate level of export files: 1, zlib's fastest. Exports are large and written once; level 1 keeps
// compression well ahead of COPY on one core, while text like CSV still shrinks to about a quarter.
inline constexpr int gzip_level = 1;

// A gzip member writer: write() compresses into the member in progress (starting one when none is open),
// finish() closes it (the deflate end and the CRC-32/length trailer). The gzip header carries no name and
// no time, so the same input always gives the same bytes. Memory: zlib's state (about 300 KiB at level 1)
// plus what the caller's output strings hold. Not thread-safe: one thread at a time.
class gzip_member_writer {
public:
    // Throws std::runtime_error when zlib cannot be initialised (out of memory) or `level` is not 0..9/-1.
    explicit gzip_member_writer(int level = gzip_level);
    ~gzip_member_writer();
    gzip_member_writer(const gzip_member_writer&) = delete;
    gzip_member_writer& operator=(const gzip_member_writer&) = delete;

    // Compresses `input` into the open member, appending whatever output zlib produces to `out` (it may
    // keep some back until more input or finish()).
    void write(std::string_view input, std::string& out);

    // Ends the open member, appending the rest of its bytes to `out`; with no member open, appends an
    // empty member (20 bytes). Afterwards no member is open.
    void finish(std::string& out);

    // True between the first write() after a finish() (or construction) and the next finish().
    bool member_open() const noexcept { return open_; }

private:
    struct stream;
    void run(std::string_view input, int flush, std::string& out);
    std::unique_ptr<stream> z_;
    bool open_ = false;
};

} // namespace pgexport::engine::detail
