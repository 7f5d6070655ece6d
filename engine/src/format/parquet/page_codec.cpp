#include "format/parquet/page_codec.hpp"

#include <snappy.h>
#include <stdexcept>
#include <zstd.h>

namespace pgexport::engine::detail::parquet {

struct page_codec::zstd_context {
    ZSTD_CCtx* context = ZSTD_createCCtx();
    ~zstd_context() { ZSTD_freeCCtx(context); }
};

page_codec::page_codec(codec kind, int zstd_level) : kind_(kind), zstd_level_(zstd_level) {
    if (kind_ == codec::zstd) {
        zstd_ = std::make_unique<zstd_context>();
        if (!zstd_->context)
            throw std::runtime_error("cannot create a zstd compression context");
    }
}

page_codec::~page_codec() = default;

std::string_view page_codec::compress(std::string_view body) {
    std::string& scratch = compressed_;
    switch (kind_) {
    case codec::uncompressed:
        return body;
    case codec::snappy: {
        scratch.resize(snappy::MaxCompressedLength(body.size()));
        std::size_t size = 0;
        snappy::RawCompress(body.data(), body.size(), scratch.data(), &size);
        scratch.resize(size);
        return scratch;
    }
    case codec::zstd: {
        scratch.resize(ZSTD_compressBound(body.size()));
        const std::size_t size = ZSTD_compressCCtx(zstd_->context, scratch.data(), scratch.size(), body.data(),
                                                   body.size(), zstd_level_);
        if (ZSTD_isError(size))
            throw std::runtime_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(size));
        scratch.resize(size);
        return scratch;
    }
    }
    throw std::logic_error("unknown Parquet codec");
}

} // namespace pgexport::engine::detail::parquet
