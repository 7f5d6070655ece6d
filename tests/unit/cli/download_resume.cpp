// The export client's resume rule (cli/download_resume): a part is resumed only for its own job, and a
// 206 must start where the part ends. No I/O.

#include "download_resume.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::cli;

namespace {
const std::string job = "3f2a9c4e-1b7d-4e8a-9c0f-5d6e7f8a9b0c";
const std::string other = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a";
} // namespace

BOOST_AUTO_TEST_SUITE(download_resume)

BOOST_AUTO_TEST_CASE(the_record_round_trips) {
    for (const part_record& r : {part_record{job, std::nullopt}, part_record{job, "\"abc-123\""}}) {
        const auto back = parse_part_record(format_part_record(r));
        BOOST_TEST_REQUIRE(back.has_value());
        BOOST_TEST(back->job_id == r.job_id);
        BOOST_TEST((back->etag == r.etag));
    }
    BOOST_TEST(format_part_record({job, std::nullopt}) == "{\"jobId\":\"" + job + "\"}\n");
    for (const char* bad : {"", "{", "[]", "{}", "{\"jobId\":\"\"}", "{\"jobId\":7}", "{\"job\":\"x\"}",
                            "{\"jobId\":\"x\",\"etag\":1}", "\"x\""})
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(!parse_part_record(bad));
        }
}

BOOST_AUTO_TEST_CASE(a_part_is_resumed_only_for_its_own_job) {
    const std::optional<part_record> mine = part_record{job, std::nullopt};
    const std::optional<part_record> theirs = part_record{other, "\"e\""};
    struct item {
        std::optional<part_record> record;
        std::optional<std::uint64_t> size;
        std::uint64_t offset;
        const char* reason; // a part of the expected reason, "" for none
        const char* what;
    };
    const item cases[] = {
        {std::nullopt, std::nullopt, 0, "", "no part"},
        {mine, std::nullopt, 0, "", "a record without its part"},
        {std::nullopt, 300, 0, "nothing records which job", "a part without a record (an older client's)"},
        {theirs, 300, 0, "belongs to job 9d0e1f2a", "another job's part"},
        {mine, 300, 300, "", "this job's part"},
        {mine, 0, 0, "", "this job's empty part"},
        {mine, 1000, 1000, "", "this job's whole part"},
        {mine, 1001, 0, "larger (1001 bytes) than the export (1000 bytes)", "this job's part, too long"},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.what) {
            const resume_plan plan = plan_resume(c.record, job, c.size, 1000);
            BOOST_TEST(plan.offset == c.offset);
            if (*c.reason)
                BOOST_TEST(plan.reason.find(c.reason) != std::string::npos, plan.reason);
            else
                BOOST_TEST(plan.reason.empty(), plan.reason);
        }
}

BOOST_AUTO_TEST_CASE(content_range_is_read_strictly) {
    const auto r = parse_content_range("bytes 100-199/200");
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->first == 100u);
    BOOST_TEST(r->last == 199u);
    BOOST_TEST(r->total == 200u);
    BOOST_TEST(parse_content_range("bytes 0-0/1").has_value());
    for (const char* bad : {"", "bytes", "bytes */200", "bytes 100-199/*", "bytes 100-/200", "bytes -199/200",
                            "bytes 199-100/200", "bytes 100-200/200", "bytes 100-199/200 ", "items 1-2/3",
                            "bytes +1-2/3", "bytes 1-2/3/4", "bytes 18446744073709551616-1/2"})
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(!parse_content_range(bad));
        }
}

BOOST_AUTO_TEST_CASE(only_strong_etags_go_in_if_range) {
    BOOST_TEST(is_strong_etag("\"abc\""));
    BOOST_TEST(!is_strong_etag("W/\"abc\""));
    BOOST_TEST(!is_strong_etag("abc"));
    BOOST_TEST(!is_strong_etag("\""));
}

BOOST_AUTO_TEST_SUITE_END()
