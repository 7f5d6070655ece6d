#include "export/parquet_stream.hpp"

#include "format/parquet/pg_columns.hpp"
#include "format/sql.hpp"
#include "util/offload.hpp"

#include <boost/json.hpp>

#include <map>
#include <stdexcept>

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

// Flushed bytes are handed to the file writer in pieces of its buffer's size, so that they are written
// behind as the CSV rows are, never copied whole into its buffer.
constexpr std::size_t piece_bytes = std::size_t{1} << 20;

parquet::writer_options options_of(const export_request& request) {
    parquet::writer_options options;
    options.compression = parquet::codec_of(request.parquet.compression);
    return options;
}

const table_schema& schema_of(engine_state& state, const job_context& job) {
    const table_schema* schema = state.find_schema(job.job.table);
    if (!schema) // claims take only jobs of this instance's tables
        throw std::runtime_error("this instance does not serve the job's table " + job.job.table);
    return *schema;
}

// The row groups of file `file` that a checkpoint of `bytes` bytes holds: the first recorded ones, up to
// where the file ends. Throws when they do not end there (the records were changed behind our back).
std::vector<parquet::row_group_info> vouched_row_groups(const std::map<int, std::vector<std::string>>& recorded,
                                                        const std::string& job, int file, std::int64_t bytes,
                                                        std::size_t columns) {
    std::vector<parquet::row_group_info> groups;
    auto end = static_cast<std::int64_t>(parquet::writer::magic.size());
    if (const auto found = recorded.find(file); found != recorded.end()) {
        for (const std::string& text : found->second) {
            if (end >= bytes)
                break;
            boost::system::error_code ec;
            const json::value parsed = json::parse(text, ec);
            auto group = ec ? std::nullopt : parquet::row_group_from_json(parsed, columns);
            if (!group || group->offset != end)
                break;
            end += group->bytes();
            groups.push_back(std::move(*group));
        }
    }
    if (end != bytes)
        throw std::runtime_error("the Parquet row groups recorded for job " + job + " (file " + std::to_string(file) +
                                 ") end at byte " + std::to_string(end) + ", its checkpoint at " +
                                 std::to_string(bytes) + ": the file's footer cannot be written");
    return groups;
}

asio::awaitable<std::map<int, std::vector<std::string>>> async_recorded_row_groups(engine_state& state,
                                                                                 const job_context& job) {
    auto read = [id = job.id()](job_repository& r) { return r.row_groups_of(id); };
    co_return co_await state.on_reads(std::move(read));
}

} // namespace

parquet_columns parquet_columns_of(const table_schema& schema, const export_request& request) {
    parquet_columns columns;
    columns.names.push_back(schema.key);
    columns.binary.push_back(parquet::key_binary_column(schema));
    for (auto& plan : parquet::plan_export_columns(schema, request)) {
        columns.names.push_back(plan.parquet.name);
        columns.binary.push_back(plan.binary);
        columns.specs.push_back(std::move(plan.parquet));
    }
    return columns;
}

struct parquet_stream::sink final : keyed_sink {
    explicit sink(parquet_stream& s) : stream(s) {}
    bool consume(std::string_view piece) override {
        stream.take(piece);
        return !stream.flushed_.empty();
    }
    asio::awaitable<void> async_drain() override { co_await stream.async_write_flushed(*file, throttle); }

    parquet_stream& stream;
    file_writer* file = nullptr;
    job_throttle* throttle = nullptr;
};

asio::awaitable<std::unique_ptr<parquet_stream>> parquet_stream::async_open(engine_state& state, job_context& job,
                                                                            std::optional<std::size_t> slice,
                                                                            const slice_state& from) {
    parquet_columns columns = parquet_columns_of(schema_of(state, job), job.job.info.request);
    std::vector<parquet::row_group_info> flushed;
    if (from.bytes > 0) {
        const auto recorded = co_await async_recorded_row_groups(state, job);
        flushed = vouched_row_groups(recorded, job.id(), static_cast<int>(slice.value_or(0)), from.bytes,
                                     columns.specs.size());
    }
    co_return std::make_unique<parquet_stream>(job, slice, std::move(columns), from, std::move(flushed),
                                               state.config.parquet_row_group_bytes);
}

parquet_stream::parquet_stream(job_context& job, std::optional<std::size_t> slice, parquet_columns columns,
                               const slice_state& from, std::vector<parquet::row_group_info> flushed,
                               std::size_t row_group_bytes)
    : job_(job), slice_(slice), column_names_(std::move(columns.names)), binary_(std::move(columns.binary)),
      recorded_(flushed.size()),
      writer_(std::move(columns.specs), options_of(job.job.info.request), std::move(flushed)),
      row_group_rows_(job.job.info.request.parquet.row_group_rows), row_group_bytes_(row_group_bytes), sink_(std::make_unique<sink>(*this)),
      rows_(from.rows), last_key_(from.last), flushed_rows_(from.rows), flushed_last_(from.last) {}

parquet_stream::~parquet_stream() = default;

keyed_sink& parquet_stream::chunk_sink(file_writer& file, job_throttle& throttle) {
    decoder_.emplace(binary_); // each COPY has its own header and trailer
    sink_->count = 0;
    sink_->file = &file;
    sink_->throttle = &throttle;
    return *sink_;
}

void parquet_stream::take(std::string_view piece) {
    decoder_->feed(piece);
    for (;;) {
        switch (decoder_->next()) {
        case pg_binary_status::row: {
            const auto fields = decoder_->fields();
            const pg_field& key = fields.front();
            if (key.type != pg_field::tag::i32 && key.type != pg_field::tag::i64)
                throw std::runtime_error("COPY sent a row without its key");
            last_key_ = key.type == pg_field::tag::i64 ? key.i64 : key.i32;
            parquet::append_row(writer_, fields.subspan(1));
            ++rows_;
            ++sink_->count;
            sink_->last_key = *last_key_;
            ++job_.progress.live_rows;
            if (writer_.open_rows() >= row_group_rows_ || writer_.encoded_bytes() >= row_group_bytes_)
                flush_row_group();
            break;
        }
        case pg_binary_status::need_more:
        case pg_binary_status::end:
            return;
        case pg_binary_status::error: {
            const pg_binary_error& e = decoder_->error();
            std::string message;
            if (e.column < 0)
                message = "COPY sent a malformed binary stream: ";
            else if (e.what == pg_binary_error::kind::unrepresentable)
                message = "column \"" + column_names_.at(static_cast<std::size_t>(e.column)) +
                          "\" holds a value that its Parquet column cannot (in the row after key " +
                          (last_key_ ? std::to_string(*last_key_) : std::string("none")) + "): ";
            else
                message = "COPY sent a malformed binary field of column \"" +
                          column_names_.at(static_cast<std::size_t>(e.column)) + "\": ";
            throw std::runtime_error(message + e.message);
        }
        }
    }
}

void parquet_stream::flush_row_group() {
    if (flushed_.empty())
        flushed_ = writer_.flush_row_group();
    else
        flushed_ += writer_.flush_row_group();
    flushed_rows_ = rows_;
    flushed_last_ = last_key_;
}

asio::awaitable<void> parquet_stream::async_write_flushed(file_writer& file, job_throttle* throttle) {
    const std::size_t bytes = flushed_.size();
    for (std::size_t at = 0; at < bytes; at += piece_bytes)
        if (file.append(std::string_view(flushed_).substr(at, piece_bytes)))
            co_await file.async_write_behind();
    std::string().swap(flushed_); // a row group's worth of memory, given back
    job_.set_live_bytes(slice_, file.size());
    job_.stop.throw_if_requested();
    if (throttle && throttle->take(bytes))
        co_await throttle->async_rate_wait();
}

asio::awaitable<bool> parquet_stream::async_end_chunk(file_writer& file, bool ended) {
    if (ended && writer_.open_rows() > 0)
        flush_row_group();
    if (!flushed_.empty())
        co_await async_write_flushed(file, sink_->throttle);
    co_return writer_.row_groups().size() > recorded_;
}

slice_state parquet_stream::vouched(const slice_state& progress) const {
    slice_state state = progress;
    state.last = flushed_last_;
    state.rows = flushed_rows_;
    return state;
}

row_group_batch parquet_stream::take_flushed() {
    row_group_batch batch{static_cast<int>(slice_.value_or(0)), static_cast<std::int64_t>(recorded_), {}};
    const auto groups = writer_.row_groups();
    for (std::size_t i = recorded_; i < groups.size(); ++i)
        batch.groups.push_back(json::serialize(parquet::to_json(groups[i])));
    recorded_ = groups.size();
    return batch;
}

asio::awaitable<void> parquet_stream::async_write_footer(file_writer& file) {
    flushed_ = writer_.footer();
    co_await async_write_flushed(file, nullptr);
}

asio::awaitable<std::int64_t> async_join_parquet_slices(engine_state& state, job_context& job,
                                                        const std::vector<fs::path>& files, const fs::path& to) {
    const export_request& request = job.job.info.request;
    parquet_columns columns = parquet_columns_of(schema_of(state, job), request);
    const auto recorded = co_await async_recorded_row_groups(state, job);
    std::vector<std::vector<parquet::row_group_info>> slices;
    std::vector<file_part> parts;
    const auto magic_bytes = static_cast<std::int64_t>(parquet::writer::magic.size());
    for (std::size_t k = 0; k < files.size(); ++k) {
        const std::int64_t bytes = job.slices.held.at(k).bytes;
        slices.push_back(vouched_row_groups(recorded, job.id(), static_cast<int>(k), bytes, columns.specs.size()));
        // The first slice's magic is the file's; the others' row groups follow it.
        parts.push_back({files[k], k == 0 ? 0 : magic_bytes, bytes});
    }
    const parquet::writer joined(std::move(columns.specs), options_of(request), parquet::joined_row_groups(slices));
    std::string footer = joined.footer();
    const std::int64_t length = joined.file_length() + static_cast<std::int64_t>(footer.size());
    auto join = [parts = std::move(parts), to, footer = std::move(footer)] { concatenate(parts, to, footer); };
    co_await async_offload(state.file_pool, std::move(join));
    co_return length;
}

} // namespace pgexport::engine::detail
