#include "format/parquet/writer.hpp"

#include <pgexport/version.hpp>

#include <stdexcept>

namespace pgexport::engine::detail::parquet {

writer::writer(std::vector<column_spec> schema, writer_options options, std::vector<row_group_info> flushed)
    : schema_(std::move(schema)), options_(std::move(options)),
      codec_(std::make_unique<page_codec>(options_.compression, options_.zstd_level)),
      row_groups_(std::move(flushed)) {
    if (options_.created_by.empty())
        options_.created_by = "pgexport version " + std::string(pgexport::version());
    std::int64_t end = static_cast<std::int64_t>(magic.size());
    for (const auto& group : row_groups_) {
        if (group.columns.size() != schema_.size() || group.offset != end)
            throw std::invalid_argument("the flushed row groups do not follow one another in this schema's file");
        end += group.bytes();
    }
    columns_.reserve(schema_.size());
    for (const auto& column : schema_)
        columns_.emplace_back(column, options_.pages, *codec_);
}

std::size_t writer::buffered_bytes() const {
    std::size_t bytes = codec_->buffered_bytes();
    for (const auto& column : columns_)
        bytes += column.buffered_bytes();
    return bytes;
}

std::size_t writer::encoded_bytes() const {
    std::size_t bytes = 0;
    for (const auto& column : columns_)
        bytes += column.encoded_bytes();
    return bytes;
}

std::string writer::flush_row_group() {
    if (open_rows_ == 0)
        return {};
    for (const auto& column : columns_)
        if (column.values() != open_rows_)
            throw std::logic_error("the Parquet column " + column.spec().name + " has " +
                                   std::to_string(column.values()) + " values for " + std::to_string(open_rows_) +
                                   " rows");
    row_group_info group;
    group.rows = open_rows_;
    group.offset = file_length();
    // Reserved whole (the estimate is the pages' size, the one in progress uncompressed, so a little over):
    // grown by doubling instead, the string would be copied at each step, the old and the new copy both
    // live beside the columns' pages, and the flush's peak would be twice the row group.
    std::string bytes;
    const std::size_t estimate = encoded_bytes();
    bytes.reserve(estimate + estimate / 16 + (std::size_t{64} << 10));
    for (auto& column : columns_)
        group.columns.push_back(column.finish_chunk(group.offset + static_cast<std::int64_t>(bytes.size()), bytes));
    row_groups_.push_back(std::move(group));
    open_rows_ = 0;
    return bytes;
}

std::int64_t writer::file_length() const {
    return parquet::file_length(row_groups_);
}

std::string writer::footer() const {
    return parquet::footer(schema_, row_groups_, options_.compression, options_.created_by);
}

std::int64_t file_length(std::span<const row_group_info> row_groups) {
    return row_groups.empty() ? static_cast<std::int64_t>(writer::magic.size())
                              : row_groups.back().offset + row_groups.back().bytes();
}

std::string footer(std::span<const column_spec> schema, std::span<const row_group_info> row_groups,
                   codec compression, std::string_view created_by) {
    std::string bytes = file_metadata(schema, row_groups, compression, created_by);
    const auto length = static_cast<std::uint32_t>(bytes.size());
    for (int byte = 0; byte < 4; ++byte)
        bytes.push_back(static_cast<char>((length >> (8 * byte)) & 0xFF));
    bytes.append(writer::magic);
    return bytes;
}

std::vector<row_group_info> joined_row_groups(std::span<const std::vector<row_group_info>> files) {
    std::vector<row_group_info> joined;
    const auto magic_bytes = static_cast<std::int64_t>(writer::magic.size());
    std::int64_t end = magic_bytes; // where the next file's first row group lands
    for (const auto& file : files) {
        const std::int64_t delta = end - magic_bytes;
        for (const auto& group : file)
            joined.push_back(shifted(group, delta));
        end += file_length(file) - magic_bytes;
    }
    return joined;
}

} // namespace pgexport::engine::detail::parquet
