// The file helpers object storage relies on: a prefix copied with a hole where the store holds the bytes,
// and the bytes of an uploaded part freed on the local disk while the file keeps its length.

#include "files/file_writer.hpp"

#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;
using namespace pgexport::engine::detail;

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

std::int64_t allocated(const fs::path& p) {
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0);
    return static_cast<std::int64_t>(st.st_blocks) * 512;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + i % 23);
    return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(copy_prefix_leaves_the_stored_bytes_a_hole) {
    pgexport::test::temp_dir dir("pgexport-file-writer");
    const std::string data = pattern(3 << 20);
    write_all(dir.path / "from", data + "beyond the checkpoint");
    const std::int64_t bytes = static_cast<std::int64_t>(data.size());

    copy_prefix(dir.path / "from", dir.path / "whole", bytes);
    BOOST_TEST(read_all(dir.path / "whole") == data);

    const std::int64_t hole = 2 << 20;
    copy_prefix(dir.path / "from", dir.path / "holed", bytes, hole);
    const std::string got = read_all(dir.path / "holed");
    BOOST_TEST_REQUIRE(got.size() == data.size());
    BOOST_TEST(got.substr(static_cast<std::size_t>(hole)) == data.substr(static_cast<std::size_t>(hole)));
    BOOST_TEST(got.substr(0, static_cast<std::size_t>(hole)) == std::string(static_cast<std::size_t>(hole), '\0'));
    BOOST_TEST(allocated(dir.path / "holed") < bytes - hole / 2); // the hole takes no disk

    // Every byte in the store: the length alone.
    copy_prefix(dir.path / "from", dir.path / "all", bytes, bytes);
    BOOST_TEST(fs::file_size(dir.path / "all") == data.size());
    BOOST_TEST(allocated(dir.path / "all") < (1 << 20));

    BOOST_CHECK_THROW(copy_prefix(dir.path / "from", dir.path / "long", bytes + (1 << 20), hole), std::system_error);
}

BOOST_AUTO_TEST_CASE(punch_hole_frees_a_range_and_keeps_the_length) {
    pgexport::test::temp_dir dir("pgexport-file-writer");
    const std::string data = pattern(4 << 20);
    const fs::path file = dir.path / "part";
    write_all(file, data);
    const std::int64_t before = allocated(file);
    BOOST_TEST(before >= static_cast<std::int64_t>(data.size()));

    const std::int64_t mib = 1 << 20;
    // ext4, xfs, btrfs and tmpfs punch holes; a file system that cannot fails here rather than pass unchecked.
    BOOST_TEST_REQUIRE(punch_hole(file, 0, 2 * mib), "the temporary directory's file system cannot punch holes");
    BOOST_TEST(fs::file_size(file) == data.size());
    BOOST_TEST(allocated(file) <= before - 2 * mib);
    const std::string got = read_all(file);
    BOOST_TEST(got.substr(2 * mib) == data.substr(2 * mib));
    BOOST_TEST(got.substr(0, 2 * mib) == std::string(2 * mib, '\0'));
    BOOST_TEST(punch_hole(file, 0, 0)); // nothing to free
    BOOST_CHECK_THROW(punch_hole(dir.path / "absent", 0, mib), std::system_error);
}
