// The data directory's pure parts: what its mode means, and sizes in messages. No I/O.

#include "files/data_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

using namespace pgexport::engine::detail;

BOOST_AUTO_TEST_SUITE(data_dir)

BOOST_AUTO_TEST_CASE(modes) {
    struct item {
        mode_t mode;
        dir_mode_verdict verdict;
    };
    const item cases[] = {
        {0700, dir_mode_verdict::ok},
        {0500, dir_mode_verdict::ok},
        {0711, dir_mode_verdict::ok}, // others may pass through, not list
        {0750, dir_mode_verdict::readable_by_others},
        {0755, dir_mode_verdict::readable_by_others}, // accepted with a warning
        {0704, dir_mode_verdict::readable_by_others},
        {0770, dir_mode_verdict::writable_by_others},
        {0702, dir_mode_verdict::writable_by_others},
        {0720, dir_mode_verdict::writable_by_others},
        {0777, dir_mode_verdict::writable_by_others},
        {01777, dir_mode_verdict::writable_by_others}, // sticky like /tmp: still others' to fill
        {S_IFDIR | 0700, dir_mode_verdict::ok},         // st_mode as stat gives it
        {S_IFDIR | 0775, dir_mode_verdict::writable_by_others},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT("mode " << std::oct << c.mode) {
            BOOST_TEST((judge_dir_mode(c.mode) == c.verdict));
        }
}

BOOST_AUTO_TEST_CASE(sizes_for_people) {
    BOOST_TEST(format_size(0) == "0 bytes");
    BOOST_TEST(format_size(1023) == "1023 bytes");
    BOOST_TEST(format_size(1024) == "1.0 KiB");
    BOOST_TEST(format_size(1536) == "1.5 KiB");
    BOOST_TEST(format_size(512ull << 20) == "512.0 MiB");
    BOOST_TEST(format_size(1ull << 30) == "1.0 GiB");
    BOOST_TEST(format_size((5ull << 40) / 2) == "2.5 TiB");
    BOOST_TEST(format_size(~0ull) == "16.0 EiB");
}

BOOST_AUTO_TEST_SUITE_END()
