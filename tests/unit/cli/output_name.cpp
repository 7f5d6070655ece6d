// The export client's default file name, after the job's format and compression. No server.

#include "export_client.hpp"

#include <boost/test/unit_test.hpp>

using pgexport::cli::default_output_name;

BOOST_AUTO_TEST_SUITE(output_name)

BOOST_AUTO_TEST_CASE(follows_format_and_compression) {
    struct item {
        const char* status;
        const char* name;
    };
    const item cases[] = {
        {R"({"jobId": "j", "request": {"filters": {}}})", "export-j.csv"},
        {R"({"jobId": "j", "request": {"format": "jsonl"}})", "export-j.jsonl"},
        {R"({"jobId": "j", "request": {"compression": "gzip"}})", "export-j.csv.gz"},
        {R"({"jobId": "j", "request": {"format": "jsonl", "compression": "gzip"}})", "export-j.jsonl.gz"},
        {R"({"jobId": "j", "request": {"format": "parquet"}})", "export-j.parquet"},
        {R"({"jobId": "j"})", "export-j.csv"},        // a server from before formats
        {R"({"jobId": "j", "request": 1})", "export-j.csv"},
        {"not json", "export-j.csv"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("status " << c.status) {
            BOOST_TEST(default_output_name("j", c.status) == c.name);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
