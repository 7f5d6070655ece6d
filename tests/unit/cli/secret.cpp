// The secret file (cli/secret): created once, atomically, 0600; refused when others can read it or it is
// short. And the API key file's lines. On a temporary directory of its own.

#include "secret.hpp"

#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <barrier>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>
#include <thread>

using namespace pgexport::cli;
namespace fs = std::filesystem;
using pgexport::test::temp_dir;

namespace {

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void write_file(const fs::path& p, const std::string& bytes, mode_t mode) {
    std::ofstream(p, std::ios::binary) << bytes;
    BOOST_REQUIRE(::chmod(p.c_str(), mode) == 0);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The message of the exception `f` throws, or "" when it throws none.
template <class F> std::string error_of(F f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

BOOST_AUTO_TEST_SUITE(secret)

BOOST_AUTO_TEST_CASE(created_once_with_mode_0600_in_a_private_directory) {
    temp_dir t;
    const fs::path file = t.path / "exports" / "secret";
    const std::string first = load_or_create_secret(file);
    BOOST_TEST(first.size() == min_secret_bytes);
    BOOST_TEST(read_file(file) == first);
    BOOST_TEST(mode_of(file) == 0600u);
    BOOST_TEST(mode_of(file.parent_path()) == 0700u);
    BOOST_TEST(load_or_create_secret(file) == first, "a second start reads the same secret");
    BOOST_TEST(first != load_or_create_secret(t.path / "other"), "a new secret is random");
    // Nothing but the secrets is left behind.
    BOOST_TEST(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_used_as_it_is) {
    temp_dir t;
    const fs::path file = t.path / "secret";
    const std::string text = "a secret someone wrote, longer than 32 bytes\n";
    write_file(file, text, 0600);
    BOOST_TEST(load_or_create_secret(file) == text);
    write_file(file, text, 0400);
    BOOST_TEST(load_or_create_secret(file) == text);
}

BOOST_AUTO_TEST_CASE(concurrent_creators_end_with_one_secret) {
    constexpr int threads = 8;
    for (int round = 0; round < 40; ++round) {
        temp_dir t;
        const fs::path file = t.path / "data" / "secret";
        std::vector<std::string> got(threads);
        std::vector<std::string> errors(threads);
        std::barrier start(threads);
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                start.arrive_and_wait();
                errors[i] = error_of([&] { got[i] = load_or_create_secret(file); });
            });
        for (auto& th : pool)
            th.join();
        BOOST_TEST_CONTEXT("round " << round) {
            const std::string on_disk = read_file(file);
            BOOST_TEST(on_disk.size() == min_secret_bytes);
            for (int i = 0; i < threads; ++i) {
                BOOST_TEST(errors[i] == "");
                BOOST_TEST(got[i] == on_disk, "creator " << i << " uses another secret than the file's");
            }
            BOOST_TEST(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()) ==
                           1,
                       "temporary files were left behind");
        }
    }
}

BOOST_AUTO_TEST_CASE(refused_when_others_can_get_at_it) {
    temp_dir t;
    const fs::path file = t.path / "secret";
    for (mode_t mode : {0640u, 0604u, 0644u, 0620u, 0602u, 0610u, 0666u})
        BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
            write_file(file, std::string(32, 'x'), mode);
            const std::string error = error_of([&] { load_or_create_secret(file); });
            BOOST_TEST(error.find("open to group or others") != std::string::npos, error);
            BOOST_TEST(error.find("chmod 600 " + file.string()) != std::string::npos, error);
        }
}

BOOST_AUTO_TEST_CASE(refused_when_short_or_not_a_file) {
    temp_dir t;
    const fs::path file = t.path / "secret";
    for (std::size_t size : {0u, 1u, 31u})
        BOOST_TEST_CONTEXT(size << " bytes") {
            write_file(file, std::string(size, 'x'), 0600);
            const std::string error = error_of([&] { load_or_create_secret(file); });
            BOOST_TEST(error.find("holds " + std::to_string(size) + " bytes") != std::string::npos, error);
            BOOST_TEST(error.find("at least 32") != std::string::npos, error);
        }
    write_file(file, std::string(32, 'x'), 0600);
    BOOST_TEST(load_or_create_secret(file) == std::string(32, 'x'), "32 bytes are enough");

    const fs::path dir = t.path / "a-directory";
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms::owner_all);
    const std::string error = error_of([&] { load_or_create_secret(dir); });
    BOOST_TEST(error.find("not a regular file") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(key_file_lines) {
    struct item {
        std::string text;
        std::vector<std::string> keys;
        const char* what;
    };
    const item cases[] = {
        {"", {}, "empty"},
        {"k1", {"k1"}, "one key without a newline"},
        {"k1\nk2\n", {"k1", "k2"}, "two keys"},
        {"  k1 \t\r\n\r\n\n\tk2\r\n", {"k1", "k2"}, "blanks, CRs and blank lines"},
        {"# the keys\nk1\n  # indented comment\nk2 # not a comment\n",
         {"k1", "k2 # not a comment"},
         "comments are whole lines"},
        {"#only\n#comments\n", {}, "only comments"},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.what) {
            BOOST_TEST(parse_api_keys(c.text) == c.keys, boost::test_tools::per_element());
        }
}

BOOST_AUTO_TEST_CASE(a_key_file_must_name_a_key) {
    temp_dir t;
    const fs::path file = t.path / "keys";
    write_file(file, "# nothing yet\n\n", 0600);
    std::string error = error_of([&] { read_api_key_file(file); });
    BOOST_TEST(error.find("names no key") != std::string::npos, error);
    error = error_of([&] { read_api_key_file(t.path / "missing"); });
    BOOST_TEST(error.find("cannot read the API key file") != std::string::npos, error);
    write_file(file, "k1\n# k2\nk3\n", 0600);
    BOOST_TEST(read_api_key_file(file) == (std::vector<std::string>{"k1", "k3"}),
               boost::test_tools::per_element());
    // The service's group may read it; other users may not.
    write_file(file, "k1\n", 0640);
    BOOST_TEST(read_api_key_file(file).size() == 1u);
    write_file(file, "k1\n", 0644);
    error = error_of([&] { read_api_key_file(file); });
    BOOST_TEST(error.find("is open to other users (mode 0644)") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
