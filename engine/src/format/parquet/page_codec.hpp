#pragma once
// Compression of a Parquet page's body (Compression.md): none, Snappy's raw block format (libsnappy) or a
// Zstandard frame (libzstd). Pure: bytes in, bytes out; the same input always gives the same bytes (for a
// given library version), which the resume's byte identity relies on.

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

    // The compressed `body`: `body` itself when uncompressed, else `scratch` filled with it. Throws
    // std::runtime_error when the library fails (it does not, for any input, short of memory).
    std::string_view compress(std::string_view body, std::string& scratch);

private:
    struct zstd_context;
    codec kind_;
    int zstd_level_;
    std::unique_ptr<zstd_context> zstd_;
};

} // namespace pgexport::engine::detail::parquet
