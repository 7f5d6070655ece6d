// The Parquet writer: a file written in one go equals, byte for byte, one written in parts with resumes
// from the flushed row groups' metadata (through its JSON, as a checkpoint stores it); joined slices; the
// footer; the memory bound. Values are read back by DuckDB and hyparquet in integration.parquet_readers.

#include "format/parquet/writer.hpp"

#include "parquet_read.hpp"

#include <pgexport/version.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace pgexport::engine::detail;
using namespace pgexport::engine::detail::parquet;
namespace pr = pgexport::test::parquet_read;

namespace {

std::vector<column_spec> schema() {
    return {
        {"id", physical_type::int64, logical_type::integer, false, 0, 64},
        {"category", physical_type::byte_array, logical_type::string, true},
        {"amount", physical_type::fixed_len_byte_array, logical_type::decimal, true, 16, 0, 38, 2},
        {"ratio", physical_type::float64, logical_type::none, true},
        {"paid", physical_type::boolean, logical_type::none, true},
        {"at", physical_type::int64, logical_type::timestamp, true, 0, 0, 0, 0, true},
        {"note", physical_type::byte_array, logical_type::string, true},
    };
}

// Row `i`, the same whenever it is asked for.
void append_row(writer& w, std::int64_t i) {
    static const char* categories[] = {"books", "music", "games", "garden"};
    w.column(0).append_int64(i);
    if (i % 11 == 0)
        w.column(1).append_null();
    else
        w.column(1).append_bytes(categories[i % 4]);
    w.column(2).append_decimal(static_cast<int128>(i) * 1234567 - 500000);
    w.column(3).append_double(i % 13 == 0 ? -0.0 : static_cast<double>(i) / 7.0);
    w.column(4).append_bool(i % 3 == 0);
    w.column(5).append_int64(1700000000000000 + i * 1000003);
    if (i % 5 == 0)
        w.column(6).append_null();
    else
        w.column(6).append_bytes(std::string(static_cast<std::size_t>(i % 37), static_cast<char>('a' + i % 26)));
    w.end_row();
}

writer_options options(codec c = codec::zstd) {
    writer_options o;
    o.compression = c;
    o.pages.page_values = 300; // several pages a column chunk
    return o;
}

// Rows [from, to) in row groups of `group_rows` into `w`, the bytes appended to `file`.
void write_rows(writer& w, std::string& file, std::int64_t from, std::int64_t to, std::int64_t group_rows) {
    for (std::int64_t i = from; i < to; ++i) {
        append_row(w, i);
        if (w.open_rows() == group_rows)
            file += w.flush_row_group();
    }
    file += w.flush_row_group();
}

std::string one_go(std::int64_t rows, std::int64_t group_rows, codec c = codec::zstd) {
    writer w(schema(), options(c));
    std::string file(writer::magic);
    write_rows(w, file, 0, rows, group_rows);
    return file + w.footer();
}

pr::fields footer_of(const std::string& file) {
    BOOST_REQUIRE(file.size() >= 12);
    BOOST_REQUIRE(file.substr(file.size() - 4) == "PAR1");
    BOOST_REQUIRE(file.substr(0, 4) == "PAR1");
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
        length |= static_cast<std::uint32_t>(static_cast<unsigned char>(file[file.size() - 8 + static_cast<std::size_t>(i)]))
                  << (8 * i);
    pr::compact_reader reader(std::string_view(file).substr(file.size() - 8 - length, length));
    auto metadata = reader.read_struct();
    BOOST_TEST(reader.position() == length);
    return metadata;
}

// Every column chunk's offsets point at a page header of the right kind, and row groups follow one
// another from offset 4 to the footer.
void check_layout(const std::string& file) {
    const auto metadata = footer_of(file);
    std::int64_t end = 4;
    std::int64_t rows = 0;
    for (const auto& group_value : metadata.at(4).list()) {
        const auto& group = group_value.structure();
        BOOST_TEST(group.at(5).integer() == end);
        for (const auto& chunk_value : group.at(1).list()) {
            const auto& meta = chunk_value.structure().at(3).structure();
            const std::int64_t first = meta.count(11) ? meta.at(11).integer() : meta.at(9).integer();
            BOOST_TEST(first == end);
            pr::compact_reader data_page(std::string_view(file).substr(static_cast<std::size_t>(meta.at(9).integer())));
            BOOST_TEST(data_page.read_struct().at(1).integer() == 0); // DATA_PAGE
            if (meta.count(11)) {
                pr::compact_reader dictionary(std::string_view(file).substr(static_cast<std::size_t>(first)));
                BOOST_TEST(dictionary.read_struct().at(1).integer() == 2); // DICTIONARY_PAGE
            }
            BOOST_TEST(meta.at(5).integer() == group.at(3).integer()); // values = rows (flat, no repetition)
            end += meta.at(7).integer();
        }
        BOOST_TEST(group.at(6).integer() == end - group.at(5).integer());
        rows += group.at(3).integer();
    }
    BOOST_TEST(metadata.at(3).integer() == rows);
    // The footer follows the last row group.
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
        length |= static_cast<std::uint32_t>(static_cast<unsigned char>(file[file.size() - 8 + static_cast<std::size_t>(i)]))
                  << (8 * i);
    BOOST_TEST(static_cast<std::size_t>(end) + length + 8 == file.size());
}

std::vector<row_group_info> through_json(std::span<const row_group_info> groups, std::size_t columns) {
    std::vector<row_group_info> back;
    for (const auto& g : groups) {
        // The checkpoint's way: serialized, stored, parsed.
        const std::string stored = boost::json::serialize(to_json(g));
        auto parsed = row_group_from_json(boost::json::parse(stored), columns);
        BOOST_REQUIRE(parsed.has_value());
        back.push_back(std::move(*parsed));
    }
    return back;
}

} // namespace

BOOST_AUTO_TEST_SUITE(parquet_writer)

BOOST_AUTO_TEST_CASE(the_footer_describes_the_file) {
    const std::string file = one_go(2500, 1000);
    check_layout(file);
    const auto metadata = footer_of(file);
    BOOST_TEST(metadata.at(1).integer() == 2); // version
    BOOST_TEST(metadata.at(2).list().size() == 8u); // the root and 7 columns
    BOOST_TEST(metadata.at(2).list()[0].structure().at(5).integer() == 7);
    BOOST_TEST(metadata.at(3).integer() == 2500);
    BOOST_TEST(metadata.at(4).list().size() == 3u);
    BOOST_TEST(metadata.at(6).bytes() == "pgexport version " + std::string(pgexport::version()));
    BOOST_TEST(metadata.at(7).list().size() == 7u);
    // The decimal column: FIXED_LEN_BYTE_ARRAY(16), DECIMAL (5) with scale and precision, and the logical
    // type's DecimalType {scale, precision}.
    const auto& amount = metadata.at(2).list()[3].structure();
    BOOST_TEST(amount.at(1).integer() == 7);
    BOOST_TEST(amount.at(2).integer() == 16);
    BOOST_TEST(amount.at(6).integer() == 5);
    BOOST_TEST(amount.at(7).integer() == 2);
    BOOST_TEST(amount.at(8).integer() == 38);
    BOOST_TEST(amount.at(10).structure().at(5).structure().at(2).integer() == 38);
    // The timestamp: TIMESTAMP_MICROS (10), TimestampType {isAdjustedToUTC true, MICROS}.
    const auto& at = metadata.at(2).list()[6].structure();
    BOOST_TEST(at.at(6).integer() == 10);
    BOOST_TEST(at.at(10).structure().at(8).structure().at(1).boolean() == true);
    BOOST_TEST(at.at(10).structure().at(8).structure().at(2).structure().count(2) == 1u);
    // The id: REQUIRED (0).
    BOOST_TEST(metadata.at(2).list()[1].structure().at(3).integer() == 0);
}

BOOST_AUTO_TEST_CASE(an_empty_file_is_the_magic_and_a_footer) {
    writer w(schema(), options());
    BOOST_TEST(w.flush_row_group().empty());
    const std::string file = std::string(writer::magic) + w.footer();
    const auto metadata = footer_of(file);
    BOOST_TEST(metadata.at(3).integer() == 0);
    BOOST_TEST(metadata.at(4).list().empty());
}

BOOST_AUTO_TEST_CASE(resumed_from_checkpoints_the_file_is_byte_identical) {
    for (const codec c : {codec::uncompressed, codec::snappy, codec::zstd}) {
        const std::string expected = one_go(5300, 1000, c);
        // Crashes after 1, then 3 row groups, each losing the rows of the open row group, which the
        // resumed export reads again after the checkpoint's last key.
        std::string file(writer::magic);
        std::vector<row_group_info> checkpoint;
        std::int64_t next = 0;
        for (const std::int64_t crash_after : {1000, 3000, 5300}) {
            writer w(schema(), options(c), through_json(checkpoint, schema().size()));
            BOOST_TEST(w.file_length() == static_cast<std::int64_t>(file.size()));
            for (std::int64_t i = next; i < crash_after; ++i) {
                append_row(w, i);
                if (w.open_rows() == 1000)
                    file += w.flush_row_group();
            }
            if (crash_after == 5300) {
                file += w.flush_row_group();
                file += w.footer();
            } else {
                for (std::int64_t i = crash_after; i < crash_after + 400; ++i)
                    append_row(w, i); // lost in the crash
            }
            checkpoint.assign(w.row_groups().begin(), w.row_groups().end());
            next = crash_after;
        }
        BOOST_TEST_CONTEXT("codec " << static_cast<int>(c)) {
            BOOST_TEST(file.size() == expected.size());
            BOOST_TEST((file == expected));
        }
    }
}

BOOST_AUTO_TEST_CASE(slices_joined_give_one_file) {
    // Slices cut at a row group boundary: the joined file is the one-stream file, byte for byte.
    const std::string expected = one_go(5300, 1000);
    auto slice = [](std::int64_t from, std::int64_t to, std::string& file) {
        writer w(schema(), options());
        file = std::string(writer::magic);
        write_rows(w, file, from, to, 1000);
        return std::vector<row_group_info>(w.row_groups().begin(), w.row_groups().end());
    };
    auto join = [](const std::vector<std::string>& files, const std::vector<std::vector<row_group_info>>& groups) {
        std::string joined(writer::magic);
        for (const auto& f : files)
            joined += f.substr(writer::magic.size());
        const auto all = joined_row_groups(groups);
        return joined + footer(schema(), all, codec::zstd, "pgexport version " + std::string(pgexport::version()));
    };
    std::vector<std::string> files(3);
    std::vector<std::vector<row_group_info>> groups;
    groups.push_back(slice(0, 2000, files[0]));
    groups.push_back(slice(2000, 2000, files[1])); // an empty slice
    groups.push_back(slice(2000, 5300, files[2]));
    BOOST_TEST((join(files, groups) == expected));
    // Cut elsewhere, the slices' short row groups stay in the file, which is laid out just as well.
    groups.clear();
    groups.push_back(slice(0, 1234, files[0]));
    groups.push_back(slice(1234, 4321, files[1]));
    groups.push_back(slice(4321, 5300, files[2]));
    const std::string joined = join(files, groups);
    check_layout(joined);
    BOOST_TEST(footer_of(joined).at(4).list().size() == 2u + 4u + 1u);
    BOOST_TEST(footer_of(joined).at(3).integer() == 5300);
}

BOOST_AUTO_TEST_CASE(flushed_row_groups_must_follow_one_another) {
    writer w(schema(), options());
    for (int i = 0; i < 10; ++i)
        append_row(w, i);
    w.flush_row_group();
    auto groups = std::vector<row_group_info>(w.row_groups().begin(), w.row_groups().end());
    BOOST_CHECK_NO_THROW(writer(schema(), options(), groups));
    groups[0] = shifted(groups[0], 1);
    BOOST_CHECK_THROW(writer(schema(), options(), groups), std::invalid_argument);
    const auto all = schema();
    BOOST_CHECK_THROW(writer(std::vector<column_spec>(all.begin(), all.begin() + 2), options(),
                             std::vector<row_group_info>(w.row_groups().begin(), w.row_groups().end())),
                      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_row_missing_a_value_is_refused_at_the_flush) {
    writer w(schema(), options());
    append_row(w, 1);
    w.column(0).append_int64(2);
    w.end_row();
    BOOST_CHECK_THROW(w.flush_row_group(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(memory_stays_within_the_row_group_and_a_page_a_column) {
    // Incompressible 200-byte strings and distinct integers, 5,000 rows a row group: about 1 MB encoded.
    const std::vector<column_spec> columns{{"id", physical_type::int64, logical_type::integer, false, 0, 64},
                                           {"noise", physical_type::byte_array, logical_type::string, true}};
    writer w(columns, writer_options{});
    std::mt19937 random(7);
    std::string noise(200, ' ');
    std::size_t largest_group = 0;
    std::size_t peak = 0;
    for (std::int64_t i = 0; i < 60000; ++i) {
        for (auto& ch : noise)
            ch = static_cast<char>('!' + random() % 90);
        w.column(0).append_int64(i);
        w.column(1).append_bytes(noise);
        w.end_row();
        peak = std::max(peak, w.buffered_bytes());
        if (w.open_rows() == 5000)
            largest_group = std::max(largest_group, w.flush_row_group().size());
    }
    // The bound: the encoded row group, plus per column a page in progress and its dictionary (1 MiB each,
    // buffers up to twice their use), plus the writer's page body and its compressed form.
    const std::size_t bound = largest_group + columns.size() * (4u << 20) + (4u << 20);
    BOOST_TEST_MESSAGE("largest row group " << largest_group << " bytes, peak buffered " << peak);
    BOOST_TEST(peak <= bound);
    BOOST_TEST(largest_group > 500000u);
}

BOOST_AUTO_TEST_SUITE_END()
