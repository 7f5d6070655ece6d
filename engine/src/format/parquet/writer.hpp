#pragma once
// A Parquet file written row group by row group, for an export that checkpoints between them. Pure: the
// writer returns bytes and the caller writes them.
//
// The file: the magic "PAR1" (the caller writes `writer::magic` first), then row groups, each flushed as
// one unit (flush_row_group() returns its bytes: every column chunk in schema order), then the footer
// (footer(): the Thrift FileMetaData, its 4-byte little-endian length, "PAR1"). Once a row group is
// flushed the writer keeps only its row_group_info, a few dozen bytes a column, serializable to JSON
// (metadata.hpp) for the checkpoint. A row group's bytes depend only on its rows and the options, never
// on where it lands in the file (offsets are the footer's alone). So:
// - resume: a writer made with the flushed row groups' metadata writes the next row group where the
//   last one ended, and the same footer as a writer that never stopped: the file is byte-identical to an
//   uninterrupted one with the same row groups;
// - slices: each slice writes a file of its own (magic and row groups); the join concatenates their bytes
//   after each magic, in order, after one magic, and ends with footer() over joined_row_groups().
//
// Memory bound, whatever the table: the open row group's encoded (compressed) pages; per column the data
// page in progress (at most page_values values and about page_bytes encoded bytes, 20,000 and 1 MiB by
// default; one value longer than a page makes a page of its own) and its dictionary (at most
// dictionary_bytes, 1 MiB, and its hash table, about 20 bytes an entry); once for the writer a page's body
// and its compressed form; and at the flush the returned row group (the columns' pages are released as
// it is assembled: the peak is the encoded row group plus one column chunk). Buffers keep their capacity
// between pages and row groups, up to twice their use. Plus the flushed row groups' metadata.
// unit.parquet_writer measures it.

#include "format/parquet/column_writer.hpp"
#include "format/parquet/metadata.hpp"
#include "format/parquet/page_codec.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail::parquet {

struct writer_options {
    codec compression = codec::zstd;
    int zstd_level = 3;
    page_limits pages;
    std::string created_by; // the footer's; empty: "pgexport version <version>"
};

class writer {
public:
    static constexpr std::string_view magic{"PAR1"};

    // A writer for a file with the columns `schema`; with `flushed`, the row groups already in the file
    // (their metadata from the checkpoint), after which the next one goes. Throws std::invalid_argument
    // when `flushed` does not describe consecutive row groups of this schema from offset 4 on.
    writer(std::vector<column_spec> schema, writer_options options, std::vector<row_group_info> flushed = {});

    std::span<const column_spec> schema() const { return schema_; }
    const writer_options& options() const { return options_; }

    // The column to append the next row's value to; end_row() once every column has one.
    column_writer& column(std::size_t index) { return columns_[index]; }
    void end_row() { ++open_rows_; }

    // Rows in the open row group.
    std::int64_t open_rows() const { return open_rows_; }
    // Bytes the open row group holds (see the memory bound above).
    std::size_t buffered_bytes() const;
    // The open row group's encoded bytes so far (column_writer::encoded_bytes): where a caller that bounds
    // a row group's size ends it, the same in every run over the same rows.
    std::size_t encoded_bytes() const;

    // Ends the open row group: its bytes, to be written at file_length() (as it was before this call),
    // and its metadata kept for the footer. Nothing (an empty string) when it has no rows. Throws
    // std::logic_error when a column has not one value a row.
    std::string flush_row_group();

    std::span<const row_group_info> row_groups() const { return row_groups_; }
    // The bytes of the file so far: the magic and the flushed row groups.
    std::int64_t file_length() const;
    // The footer for the flushed row groups (the open one, if any, is not in it).
    std::string footer() const;

private:
    std::vector<column_spec> schema_;
    writer_options options_;
    std::unique_ptr<page_codec> codec_;
    std::vector<column_writer> columns_;
    std::vector<row_group_info> row_groups_;
    std::int64_t open_rows_ = 0;
};

// The length of a file of the magic and `row_groups` (consecutive, from offset 4).
std::int64_t file_length(std::span<const row_group_info> row_groups);

// The footer of a file of `row_groups`: FileMetaData, its length, the magic.
std::string footer(std::span<const column_spec> schema, std::span<const row_group_info> row_groups,
                   codec compression, std::string_view created_by);

// The row groups of one file made of `files` (each the row groups of a file begun with the magic): their
// bytes after the magic, concatenated in order after one magic. Offsets shifted accordingly.
std::vector<row_group_info> joined_row_groups(std::span<const std::vector<row_group_info>> files);

} // namespace pgexport::engine::detail::parquet
