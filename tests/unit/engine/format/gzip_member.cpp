// The gzip member writer: members that concatenate into one gzip stream. No I/O.

#include "format/gzip_member.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <stdexcept>
#include <zlib.h>

using namespace pgexport::engine::detail;

namespace {

// What a standard reader makes of `gz`: every member in turn (as gzip -dc does), checking each trailer.
std::string gunzip(const std::string& gz, int* members = nullptr) {
    std::string out;
    std::size_t at = 0;
    int count = 0;
    while (at < gz.size()) {
        z_stream z{};
        if (inflateInit2(&z, 15 + 16) != Z_OK)
            throw std::runtime_error("inflateInit2");
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data() + at));
        z.avail_in = static_cast<uInt>(gz.size() - at);
        int rc;
        do {
            char buf[4096];
            z.next_out = reinterpret_cast<Bytef*>(buf);
            z.avail_out = sizeof buf;
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                inflateEnd(&z);
                throw std::runtime_error("not a gzip stream at byte " + std::to_string(at));
            }
            out.append(buf, sizeof buf - z.avail_out);
        } while (rc != Z_STREAM_END);
        at = gz.size() - z.avail_in;
        inflateEnd(&z);
        ++count;
    }
    if (members)
        *members = count;
    return out;
}

std::string sample(std::size_t bytes, unsigned seed) {
    std::mt19937 random(seed);
    std::string s;
    const char* words[] = {"books,", "paid,", "\"quoted, text\"\n", "12.50,", "2024-01-01 00:00:00+00,",
                           "\n"};
    while (s.size() < bytes)
        s += words[random() % 6];
    s.resize(bytes);
    return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(gzip_member)

BOOST_AUTO_TEST_CASE(members_concatenate_to_the_input) {
    gzip_member_writer w;
    std::string file, input;
    for (unsigned chunk = 0; chunk < 5; ++chunk) {
        // A chunk arrives in buffers of any size; the member ends at the chunk's end.
        for (std::size_t piece : {1u, 1000u, 70000u, 0u, 300000u}) {
            const std::string part = sample(piece, chunk * 7 + static_cast<unsigned>(piece));
            input += part;
            w.write(part, file);
        }
        BOOST_TEST(w.member_open());
        w.finish(file);
        BOOST_TEST(!w.member_open());
    }
    int members = 0;
    BOOST_TEST(gunzip(file, &members) == input);
    BOOST_TEST(members == 5);
    BOOST_TEST(file.size() < input.size() / 2); // it does compress
}

BOOST_AUTO_TEST_CASE(a_prefix_of_whole_members_is_a_valid_file) {
    // What a resume relies on: the file cut at a member boundary, then new members after it.
    gzip_member_writer first;
    std::string file;
    first.write("chunk one\n", file);
    first.finish(file);
    const std::size_t checkpoint = file.size();
    first.write("chunk two, lost in a crash\n", file);
    file.resize(checkpoint + 3); // a torn member after the checkpoint
    file.resize(checkpoint);     // the resume's truncation
    gzip_member_writer resumed;
    resumed.write("chunk two\n", file);
    resumed.finish(file);
    BOOST_TEST(gunzip(file) == "chunk one\nchunk two\n");
}

BOOST_AUTO_TEST_CASE(same_input_same_bytes_and_an_empty_member) {
    std::string a, b;
    gzip_member_writer x, y;
    x.write("same\n", a);
    x.finish(a);
    y.write("sa", b);
    y.write("me\n", b);
    y.finish(b);
    BOOST_TEST(a == b); // no time or name in the header
    BOOST_TEST(static_cast<unsigned char>(a[0]) == 0x1f);
    BOOST_TEST(static_cast<unsigned char>(a[1]) == 0x8b);
    std::string empty;
    x.finish(empty);
    BOOST_TEST(empty.size() == 20u);
    BOOST_TEST(gunzip(empty) == "");
    BOOST_TEST(gunzip(a + empty + a) == "same\nsame\n");
}

BOOST_AUTO_TEST_SUITE_END()
