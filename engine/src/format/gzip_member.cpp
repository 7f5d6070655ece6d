#include "format/gzip_member.hpp"

#include <algorithm>
#include <stdexcept>
#include <zlib.h>

namespace pgexport::engine::detail {

struct gzip_member_writer::stream {
    z_stream z{};
};

gzip_member_writer::gzip_member_writer(int level) : z_(std::make_unique<stream>()) {
    // windowBits 15 + 16: a gzip wrapper (header and trailer) instead of zlib's; memLevel 8 is zlib's
    // default.
    if (deflateInit2(&z_->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("cannot initialise gzip compression (zlib's deflateInit2 failed)");
}

gzip_member_writer::~gzip_member_writer() {
    deflateEnd(&z_->z);
}

void gzip_member_writer::run(std::string_view input, int flush, std::string& out) {
    z_stream& z = z_->z;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    z.avail_in = static_cast<uInt>(input.size());
    for (;;) {
        // Room for what this input may become (deflateBound is an upper bound for the whole of it), at
        // least 64 KiB; the loop goes on while zlib fills it.
        const std::size_t used = out.size();
        const std::size_t room = std::max<std::size_t>(64 * 1024, deflateBound(&z, z.avail_in));
        out.resize(used + room);
        z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z.avail_out = static_cast<uInt>(room);
        const int rc = deflate(&z, flush);
        out.resize(used + (room - z.avail_out));
        if (rc == Z_STREAM_ERROR)
            throw std::runtime_error("gzip compression failed (zlib's deflate: stream error)");
        if (flush == Z_FINISH) {
            if (rc == Z_STREAM_END)
                break;
        } else if (z.avail_in == 0 && z.avail_out != 0) {
            break;
        }
    }
}

void gzip_member_writer::write(std::string_view input, std::string& out) {
    if (input.empty())
        return;
    open_ = true;
    // A chunk's buffer is at most a few MiB: it fits zlib's 32-bit counts. Larger input goes in pieces.
    constexpr std::size_t piece = 1u << 30;
    for (std::size_t at = 0; at < input.size(); at += piece)
        run(input.substr(at, piece), Z_NO_FLUSH, out);
}

void gzip_member_writer::finish(std::string& out) {
    run({}, Z_FINISH, out);
    if (deflateReset(&z_->z) != Z_OK)
        throw std::runtime_error("gzip compression failed (zlib's deflateReset)");
    open_ = false;
}

} // namespace pgexport::engine::detail
