#pragma once
// A stream's rows as Parquet (CONTRACT.md, Part 3, "Parquet"): each chunk's COPY ... TO STDOUT (FORMAT
// binary) decoded (format/pg_binary) into the open row group of the stream's Parquet writer
// (format/parquet/writer), and written to the stream's file row group by row group. A single stream's
// file is the magic, its row groups and, once the rows end, the footer; a parallel job's slice file is the
// magic and its row groups, and the join writes the footer (async_join_parquet_slices).
//
// Row groups and checkpoints. A row group ends at the request's rowGroupRows rows, or once its encoded
// pages reach engine_config::parquet_row_group_bytes (--parquet-row-group-bytes), both counted from its own first row, so the same rows make the same row
// groups in every run: a resumed export is byte-identical to an uninterrupted one, and a parallel one
// to a single stream wherever every slice but the last holds whole row groups. A row group's bytes go to
// the file as soon as it ends, inside the chunk (before the next row is read). The checkpoint after a
// chunk vouches only for the flushed row groups: the key of their last row, their rows, the file's
// length, and their metadata, which the checkpoint's own fenced statement records (export_row_groups, one
// row per row group, so a checkpoint costs the same however many came before). A chunk that ended no row
// group is not checkpointed. A resume truncates the file to the last flushed row group and reads the rows
// after its last key again.
//
// Memory, whatever the table: the writer's bound (format/parquet/writer.hpp) for a row group of at most
// parquet_row_group_bytes of encoded pages; the flushed row group's bytes until they are written (in pieces of
// the file writer's buffer); the flushed row groups' metadata (a few hundred bytes a column each).

#include "export/chunk_copier.hpp"
#include "files/file_writer.hpp"
#include "format/parquet/writer.hpp"
#include "format/pg_binary.hpp"
#include "protection/job_throttle.hpp"
#include "runtime/engine_state.hpp"
#include "job/job_context.hpp"
#include "store/job_repository.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// An export's columns as the decoder reads them (the key first) and as the Parquet file holds them.
struct parquet_columns {
    std::vector<std::string> names;
    std::vector<pg_binary_column> binary;
    std::vector<parquet::column_spec> specs;
};

parquet_columns parquet_columns_of(const table_schema& schema, const export_request& request);

class parquet_stream {
public:
    static constexpr std::string_view magic = parquet::writer::magic;

    // The stream of `job` (of its `slice`, when parallel) from its checkpoint `from`: the file's first
    // from.bytes bytes are the magic and row groups whose metadata the job store holds (read here). Throws
    // std::runtime_error when the recorded row groups do not end where the checkpoint does.
    static boost::asio::awaitable<std::unique_ptr<parquet_stream>> async_open(engine_state& state, job_context& job,
                                                                              std::optional<std::size_t> slice,
                                                                              const slice_state& from);

    // A row group ends at the request's rowGroupRows or once its encoded pages reach `row_group_bytes`.
    parquet_stream(job_context& job, std::optional<std::size_t> slice, parquet_columns columns,
                   const slice_state& from, std::vector<parquet::row_group_info> flushed,
                   std::size_t row_group_bytes);
    ~parquet_stream();

    // The next chunk's sink: its rows go to the open row group; a row group that ends is written to `file`
    // before the next row is read, and counted against `throttle`'s --max-rate there.
    keyed_sink& chunk_sink(file_writer& file, job_throttle& throttle);

    // After a chunk: when the rows `ended`, the open row group is the last one and is flushed to `file`.
    // Returns whether a row group was flushed since the last take_flushed(): a checkpoint is due.
    boost::asio::awaitable<bool> async_end_chunk(file_writer& file, bool ended);

    // What the flushed row groups vouch for, `progress` being where the rows are (the next chunk's start,
    // and the file's length): the last key and the rows of the last flushed row group.
    slice_state vouched(const slice_state& progress) const;
    // The row groups flushed since the last call, for the checkpoint that vouches for them.
    row_group_batch take_flushed();

    // Appends the footer of a single stream's file (all its row groups) to `file`.
    boost::asio::awaitable<void> async_write_footer(file_writer& file);

private:
    struct sink;
    void take(std::string_view piece);
    void flush_row_group();
    boost::asio::awaitable<void> async_write_flushed(file_writer& file, job_throttle* throttle);

    job_context& job_;
    std::optional<std::size_t> slice_;
    std::vector<std::string> column_names_; // the decoder's columns: the key, then the output columns
    std::vector<pg_binary_column> binary_;
    std::size_t recorded_; // row groups the checkpoints sent so far (before writer_: flushed moves into it)
    parquet::writer writer_;
    std::int64_t row_group_rows_;
    std::size_t row_group_bytes_;
    std::unique_ptr<sink> sink_;
    std::optional<pg_binary_decoder> decoder_; // the chunk's
    std::string flushed_;                      // row groups ended, not yet in the file
    std::int64_t rows_;                        // rows in the file and the open row group
    std::optional<std::int64_t> last_key_;     // of the last row appended
    std::int64_t flushed_rows_;                // rows in the flushed row groups
    std::optional<std::int64_t> flushed_last_; // the key of their last row
};

// A parallel Parquet job's slices, each done and `files[k]` holding the bytes its checkpoint vouches for,
// joined into `to`: the magic, every slice's row groups in key order, and one footer over them all, their
// offsets shifted to where they land (parquet::joined_row_groups); fdatasync'd. Returns its length.
boost::asio::awaitable<std::int64_t> async_join_parquet_slices(engine_state& state, job_context& job,
                                                               const std::vector<std::filesystem::path>& files,
                                                               const std::filesystem::path& to);

} // namespace pgexport::engine::detail
