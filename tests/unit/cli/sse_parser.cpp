// The export client's reading of text/event-stream: fields, comments, line ends, splits anywhere, and
// the server's own framing read back.
#include "sse_parser.hpp"
#include "sse.hpp"

#include <boost/test/unit_test.hpp>

using pgexport::cli::sse_message;
using pgexport::cli::sse_parser;

namespace {

std::vector<sse_message> parse_in_pieces(std::string_view text, std::size_t piece) {
    sse_parser p;
    std::vector<sse_message> all;
    for (std::size_t i = 0; i < text.size(); i += piece)
        for (auto& m : p.feed(text.substr(i, piece)))
            all.push_back(std::move(m));
    return all;
}

} // namespace

BOOST_AUTO_TEST_CASE(events_come_out_whole_however_the_bytes_are_split) {
    const std::string stream = ": ping\n\nevent: progress\ndata: {\"a\":1}\n\n"
                               "event: progress\r\ndata: one\r\ndata: two\r\n\r\n"
                               "event: completed\rdata:x\r\r"
                               "data: no name\n\n"
                               "event: lost\n\n" // no data: not dispatched
                               "event: cut\ndata: never ended\n";
    for (std::size_t piece : {1u, 2u, 3u, 7u, 1000u}) {
        BOOST_TEST_CONTEXT("pieces of " << piece) {
            auto events = parse_in_pieces(stream, piece);
            BOOST_REQUIRE_EQUAL(events.size(), 4u);
            BOOST_TEST(events[0].name == "progress");
            BOOST_TEST(events[0].data == "{\"a\":1}");
            BOOST_TEST(events[1].data == "one\ntwo");
            BOOST_TEST(events[2].name == "completed");
            BOOST_TEST(events[2].data == "x");
            BOOST_TEST(events[3].name == "message");
            BOOST_TEST(events[3].data == "no name");
        }
    }
}

BOOST_AUTO_TEST_CASE(the_servers_framing_reads_back_to_the_same_event) {
    for (const char* data : {"{\"jobId\":\"x\"}", "", "a\nb", "a\r\nb\rc", "line\n"}) {
        BOOST_TEST_CONTEXT("data " << data) {
            sse_parser p;
            auto events = p.feed(pgexport::http::sse_event("progress", data));
            BOOST_REQUIRE_EQUAL(events.size(), 1u);
            BOOST_TEST(events[0].name == "progress");
            std::string expected = data;
            for (std::size_t i = 0; (i = expected.find('\r', i)) != std::string::npos;)
                expected.replace(i, expected[i + 1] == '\n' ? 2 : 1, "\n");
            BOOST_TEST(events[0].data == expected);
        }
    }
}
