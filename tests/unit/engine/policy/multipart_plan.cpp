// The multipart bookkeeping: which byte ranges are parts, what a checkpoint records, what survives a crash.

#include "policy/multipart_plan.hpp"
#include "s3/s3_xml.hpp"

#include <boost/test/unit_test.hpp>

#include <ostream>

using namespace pgexport::engine::detail;

namespace pgexport::engine::detail {
std::ostream& operator<<(std::ostream& os, const uploaded_part& p) {
    return os << "part " << p.number << " " << p.etag << " " << p.bytes;
}
std::ostream& operator<<(std::ostream& os, const part_range& p) {
    return os << "part " << p.number << " at " << p.offset << " of " << p.bytes;
}
} // namespace pgexport::engine::detail

namespace {

// Uploads every part next() names for a file of `total` bytes, growing in `step`s, as the runner would.
std::vector<part_range> walk(multipart_plan& plan, std::int64_t total, std::int64_t step) {
    std::vector<part_range> out;
    for (std::int64_t available = 0;; available = std::min(total, available + step)) {
        const bool final = available == total;
        while (auto part = plan.next(available, final)) {
            out.push_back(*part);
            std::string etag = "e";
            etag.append(std::to_string(part->number));
            plan.record({part->number, etag, part->bytes});
        }
        if (final)
            return out;
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(parts_cover_the_file_in_order) {
    struct row {
        std::int64_t total, part, step;
        std::vector<part_range> expected;
    };
    const std::vector<row> rows = {
        {25, 10, 3, {{1, 0, 10}, {2, 10, 10}, {3, 20, 5}}},
        {30, 10, 7, {{1, 0, 10}, {2, 10, 10}, {3, 20, 10}}}, // no empty part after an exact fit
        {9, 10, 9, {{1, 0, 9}}},
        {0, 10, 1, {{1, 0, 0}}}, // an empty file is one empty part: S3 needs at least one
        {35, 10, 100, {{1, 0, 10}, {2, 10, 10}, {3, 20, 10}, {4, 30, 5}}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("total " << r.total << " part " << r.part << " step " << r.step) {
            multipart_plan plan(r.part);
            BOOST_TEST(walk(plan, r.total, r.step) == r.expected, boost::test_tools::per_element());
            BOOST_TEST(plan.covers(r.total));
        }
    }
}

BOOST_AUTO_TEST_CASE(nothing_before_a_full_part_unless_final) {
    multipart_plan plan(10);
    BOOST_TEST(!plan.next(9, false));
    BOOST_TEST((plan.next(10, false) == part_range{1, 0, 10}));
    plan.record({1, "a", 10});
    BOOST_TEST(!plan.next(10, false));
    BOOST_TEST(!plan.next(10, true)); // every byte is in a part already
    BOOST_CHECK_THROW(plan.record({3, "c", 10}), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_resume_goes_on_after_the_recorded_parts) {
    // Recorded with another part size: the next part starts where the recorded bytes end.
    multipart_plan plan(10, {{1, "a", 12}, {2, "b", 12}});
    BOOST_TEST(plan.uploaded_bytes() == 24);
    BOOST_TEST((plan.next(30, true) == part_range{3, 24, 6}));
    // A gap ends what is kept: part 3 without part 2 is not a prefix of the file.
    multipart_plan gap(10, {{1, "a", 10}, {3, "c", 10}});
    BOOST_TEST(gap.parts().size() == 1u);
    BOOST_TEST((gap.next(30, false) == part_range{2, 10, 10}));
}

BOOST_AUTO_TEST_CASE(part_10001_is_refused_with_the_part_size_that_would_do) {
    const std::int64_t mib = std::int64_t{1} << 20;
    std::vector<uploaded_part> done;
    for (int n = 1; n < multipart_plan::max_parts; ++n)
        done.push_back({n, "e", 5 * mib});
    multipart_plan plan(5 * mib, done);
    const std::int64_t before = plan.uploaded_bytes();
    // Part 10,000 is S3's last: a full one, or the short last one, goes.
    BOOST_TEST((plan.next(before + 5 * mib, false) == part_range{10000, before, 5 * mib}));
    BOOST_TEST((plan.next(before + 7, true) == part_range{10000, before, 7}));
    plan.record({10000, "e", 5 * mib});
    BOOST_TEST(!plan.next(plan.uploaded_bytes() + 1, false)); // nothing to send yet: no refusal either
    try {
        (void)plan.next(plan.uploaded_bytes() + 1, true);
        BOOST_FAIL("part 10,001 was planned");
    } catch (const std::length_error& e) {
        const std::string message = e.what();
        BOOST_TEST_CONTEXT(message) {
            BOOST_TEST(message.find("10,000 parts") != std::string::npos);
            // 50,000 MiB and a byte in 10,000 parts: 6 MiB each.
            BOOST_TEST(message.find("more than 6MiB") != std::string::npos);
        }
    }
    BOOST_CHECK_THROW((void)plan.next(plan.uploaded_bytes() + 5 * mib, false), std::length_error);
}

BOOST_AUTO_TEST_CASE(an_attempt_decides_what_to_do_with_the_recorded_upload) {
    using a = upload_action;
    constexpr std::int64_t unknown = -1;
    const std::optional<std::int64_t> none;
    struct row {
        const char* what;
        std::int64_t recorded, kept;
        bool gone;
        std::optional<std::int64_t> object;
        std::int64_t checkpoint;
        bool streaming;
        upload_decision expected;
    };
    const std::vector<row> rows = {
        {"no upload yet", 0, 0, true, none, 0, true, {a::start_new, false, false}},
        {"no upload recorded, resumed export (an older version's job)", 0, 0, true, none, 500, true, {a::start_new, false, false}},
        {"parts kept, checkpoint past them", 20, 20, false, none, 25, true, {a::resume}},
        {"parts kept up to the checkpoint", 20, 20, false, none, 20, true, {a::resume}},
        {"completed, not recorded", 30, 30, false, 30, 30, true, {a::completed}},
        {"completed, ListParts says gone", 30, 30, true, 30, 30, true, {a::completed}},
        {"an object of another length is not this upload", 30, 30, false, 7, 30, true, {a::resume}},
        {"gone, nothing recorded", 0, 0, true, none, 0, true, {a::start_new, false, false}},
        {"gone with parts: their local bytes may be freed", 20, 20, true, none, 25, true, {a::start_new, false, true}},
        {"a part lost in the store: freed locally", 20, 10, false, none, 25, true, {a::start_new, true, true}},
        {"a part lost, parallel: the assembled file has it", 20, 10, false, none, unknown, false, {a::resume}},
        {"the checkpoint behind the parts (started over)", 20, 20, false, none, 0, true, {a::start_new, true, false}},
        {"gone, started over anyway", 20, 20, true, none, 0, true, {a::start_new, false, false}},
        {"parallel, gone", 20, 20, true, none, unknown, false, {a::start_new, false, false}},
        {"parallel, completed", 20, 20, true, 20, unknown, false, {a::completed}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            const upload_decision d = decide_upload(r.recorded, r.kept, r.gone, r.object, r.checkpoint, r.streaming);
            BOOST_TEST(static_cast<int>(d.action) == static_cast<int>(r.expected.action));
            BOOST_TEST(d.abort_old == r.expected.abort_old);
            BOOST_TEST(d.restart_export == r.expected.restart_export);
        }
    }
}

BOOST_AUTO_TEST_CASE(reconcile_keeps_what_s3_still_lists) {
    const std::vector<uploaded_part> recorded = {{1, "\"a\"", 10}, {2, "\"b\"", 10}, {3, "\"c\"", 10}};
    // S3 lists ETags quoted or not; part 2 was overwritten (another ETag): 2 and 3 go again.
    const std::vector<uploaded_part> listed = {{1, "a", 10}, {2, "\"x\"", 10}, {3, "\"c\"", 10}, {4, "d", 3}};
    BOOST_TEST(multipart_plan::reconcile(recorded, listed) == (std::vector<uploaded_part>{{1, "\"a\"", 10}}),
               boost::test_tools::per_element());
    BOOST_TEST(multipart_plan::reconcile(recorded, recorded) == recorded, boost::test_tools::per_element());
    BOOST_TEST(multipart_plan::reconcile(recorded, {}).empty());
}

BOOST_AUTO_TEST_CASE(the_checkpoint_text_round_trips) {
    const multipart_state state{"exports/j.csv", "u-1", {{1, "\"a\"", 5242880}, {2, "\"b\"", 17}}};
    const auto back = multipart_state_from_json(to_json(state));
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST((*back == state));
    for (const char* bad : {"", "[]", "{\"key\":\"k\",\"uploadId\":\"u\"}",
                            "{\"key\":\"k\",\"uploadId\":\"u\",\"parts\":[{\"number\":\"1\",\"etag\":\"a\",\"bytes\":1}]}"}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!multipart_state_from_json(bad)); }
    }
}

BOOST_AUTO_TEST_CASE(s3_answers_parse) {
    BOOST_TEST(*parse_upload_id("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
                                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
                                "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>") ==
               "VXBsb2FkIElE");
    BOOST_TEST(!parse_upload_id("<Error><Code>NoSuchBucket</Code></Error>"));
    BOOST_TEST(!parse_upload_id("not xml"));
    const auto error = parse_s3_error("<Error><Code>NoSuchUpload</Code><Message>The specified upload does not "
                                      "exist.</Message><UploadId>x</UploadId></Error>");
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->code == "NoSuchUpload");
    BOOST_TEST(error->message == "The specified upload does not exist.");
    const auto listed = parse_list_parts(
        "<ListPartsResult><Bucket>b</Bucket><IsTruncated>true</IsTruncated>"
        "<Part><PartNumber>1</PartNumber><ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><Size>5242880</Size></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"aaaa\"</ETag><Size>17</Size></Part></ListPartsResult>");
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST(listed->truncated);
    BOOST_TEST(listed->parts == (std::vector<uploaded_part>{{1, "\"7778aef83f66abc1fa1e8477f296d394\"", 5242880},
                                                             {2, "\"aaaa\"", 17}}),
               boost::test_tools::per_element());
    BOOST_TEST(!parse_list_parts("<ListPartsResult><Part><PartNumber>x</PartNumber></Part></ListPartsResult>"));
}

BOOST_AUTO_TEST_CASE(the_completion_body_lists_parts_in_order) {
    BOOST_TEST(complete_upload_body({{1, "\"a\"", 10}, {2, "\"b&c\"", 3}}) ==
               "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
               "<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part>"
               "<Part><PartNumber>2</PartNumber><ETag>\"b&amp;c\"</ETag></Part></CompleteMultipartUpload>");
}
