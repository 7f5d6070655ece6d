// Which of a job's files each removal takes: an attempt removes its own lease's files and older leases',
// never a newer lease's (its holder may have lost the job to it), never another job's, never a name that is
// not ours.

#include "files/export_files.hpp"

#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace pgexport::engine::detail;

namespace {

const std::string job = "81a95a1f-2b98-4fc2-b233-5e4243c64f3e";
const std::string other = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// Every kind of file two leases (2 and 3) of a job and a second job may have left, and a stranger.
void fill(const export_files& files) {
    const std::vector<fs::path> paths{
        files.part(job, std::nullopt), files.part(job, 1), files.part(job, 2), files.slice(job, 2, 0),
        files.slice(job, 2, 1), files.part(job, 3), files.slice(job, 3, 0), files.final(job),
        files.part(other, 2), files.slice(other, 2, 0), files.dir() / (job + ".notes.txt")};
    for (const auto& p : paths)
        std::ofstream(p) << "x";
}

std::vector<std::string> sorted(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

BOOST_AUTO_TEST_SUITE(export_files_removal)

BOOST_AUTO_TEST_CASE(older_leases) {
    pgexport::test::temp_dir dir("pgexport-export-files");
    const export_files files(dir.path);
    fill(files);
    BOOST_TEST(files.remove_older_leases(job, 3) == 5); // version 1's, lease 1's, lease 2's part and slices
    BOOST_TEST(names_in(dir.path) ==
               sorted({job + ".3.csv.part", job + ".3.s0.csv.part", job + ".csv", other + ".2.csv.part",
                       other + ".2.s0.csv.part", job + ".notes.txt"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(all_but_the_published_part) {
    pgexport::test::temp_dir dir("pgexport-export-files");
    const export_files files(dir.path);
    fill(files);
    // Lease 2 recorded its publishing: its slices go with the older leases' files, its part stays, and
    // lease 3's files (a lease that took the job from it since) are not its to remove.
    BOOST_TEST(files.remove_all_but_part(job, 2) == 4);
    BOOST_TEST(names_in(dir.path) ==
               sorted({job + ".2.csv.part", job + ".3.csv.part", job + ".3.s0.csv.part", job + ".csv",
                       other + ".2.csv.part", other + ".2.s0.csv.part", job + ".notes.txt"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_partial) {
    pgexport::test::temp_dir dir("pgexport-export-files");
    const export_files files(dir.path);
    fill(files);
    BOOST_TEST(files.remove_partials(job) == 7);
    BOOST_TEST(names_in(dir.path) ==
               sorted({job + ".csv", other + ".2.csv.part", other + ".2.s0.csv.part", job + ".notes.txt"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
