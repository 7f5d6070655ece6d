#pragma once
// Compression of a Parquet page's body (Compression.md): none, Snappy's raw block format (libsnappy) or a
// Zstandard frame (libzstd). Pure: bytes in, bytes out; the same input always gives the same bytes (for a
// given library version), which the resume's byte identity relies on. One codec serves all the columns of
// a writer, one page at a time, and holds the two page-sized buffers they share: the body being built and
// its compressed form.

#include "format/parquet/metadata.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace pgexport::engine::detail::parquet {

class page_codec {
public:
    // Throws std::runtime_error when zstd's context cannot be made (out of memory).
    explicit page_codec(codec kind, int zstd_level = 3);
    ~page_codec();
    page_codec(const page_codec&) = delete;
    page_codec& operator=(const page_codec&) = delete;

    codec kind() const { return kind_; }

    // The compressed `body`: `body` itself when uncompressed, else a view of the codec's buffer, valid until
    // the next call. Throws std::runtime_error when the library fails (it does not, for any input, short
    // of memory).
    std::string_view compress(std::string_view body);

    // A buffer to build a page's body in (empty when handed out), kept between pages.
    std::string& body() {
        body_.clear();
        return body_;
    }

    // Bytes held by the two buffers.
    std::size_t buffered_bytes() const { return body_.capacity() + compressed_.capacity(); }

private:
    struct zstd_context;
    codec kind_;
    int zstd_level_;
    std::unique_ptr<zstd_context> zstd_;
    std::string body_;
    std::string compressed_;
};

} // namespace pgexport::engine::detail::parquet
