// The sweeper's decisions: which names are ours, which files may go, the period, the expiry. No I/O.

#include "policy/sweep_policy.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>

using namespace pgexport::engine;
using namespace pgexport::engine::detail;
using namespace std::chrono_literals;

namespace {

constexpr const char* id = "0b7c6f1e-3d2a-4c5b-9e8f-7a6b5c4d3e2f";

std::string kind_name(std::optional<export_file_name> f) {
    if (!f)
        return "not ours";
    return f->kind == export_file_kind::finished ? "finished" : "partial";
}

} // namespace

BOOST_AUTO_TEST_SUITE(sweep_policy)

BOOST_AUTO_TEST_CASE(names_of_our_files) {
    struct item {
        std::string name;
        std::string kind;
    };
    const std::string i = id;
    const item cases[] = {
        {i + ".csv", "finished"},
        {i + ".1.csv.part", "partial"},
        {i + ".12345678901.csv.part", "partial"},
        {i + ".csv.part", "partial"}, // version 1 wrote no lease token
        {i + ".3.s0.csv.part", "partial"}, // a parallel job's slice
        {i + ".12.s15.csv.part", "partial"},
        {i + ".s1.csv.part", "not ours"},   // a slice always has a lease token
        {i + ".3.s.csv.part", "not ours"},
        {i + ".3.sx.csv.part", "not ours"},
        {i + ".3.s1.s2.csv.part", "not ours"},
        {"0B7C6F1E-3D2A-4C5B-9E8F-7A6B5C4D3E2F.csv", "not ours"}, // the engine writes lower case
        {i, "not ours"},
        {i + ".", "not ours"},
        {i + ".csv.bak", "not ours"},
        {i + ".csv.part.old", "not ours"},
        {i + ".x.csv.part", "not ours"},
        {i + "..csv.part", "not ours"},
        {i + ".-1.csv.part", "not ours"},
        {i + ".1234567890123456789.csv.part", "not ours"}, // more digits than a token has
        {i + ".1.csv", "not ours"},
        {i + ".csvx", "not ours"},
        {i + "x.csv", "not ours"},
        {"0b7c6f1e-3d2a-4c5b-9e8f-7a6b5c4d3e2.csv", "not ours"},   // 35 characters
        {"0b7c6f1e-3d2a-4c5b-9e8f-7a6b5c4d3e2g.csv", "not ours"},  // not hex
        {"0b7c6f1e+3d2a-4c5b-9e8f-7a6b5c4d3e2f.csv", "not ours"},  // a dash missing
        {".pgexport-write-test-1234", "not ours"},
        {"secret", "not ours"},
        {"notes.csv", "not ours"},
        {"", "not ours"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("name \"" << c.name << "\"") {
            const auto parsed = parse_export_file_name(c.name);
            BOOST_TEST(kind_name(parsed) == c.kind);
            if (parsed)
                BOOST_TEST(parsed->job_id == i);
        }
    }
}

BOOST_AUTO_TEST_CASE(which_files_are_orphans) {
    using s = job_status;
    struct item {
        std::optional<job_status> status;
        bool partial_goes, finished_goes;
        const char* why;
    };
    const item cases[] = {
        {std::nullopt, true, true, "the job is gone (its row is inserted before any file exists)"},
        {s::queued, false, false, "a job that has not run has nothing to lose yet"},
        {s::running, false, false, "running: its part is written, its .csv may be published unrecorded"},
        {s::completed, true, false, "completed: the file is the export; a part is left over"},
        {s::failed, true, true, "failed: no file belongs to it"},
        {s::cancelled, true, true, "cancelled: no file belongs to it"},
        {s::expired, true, true, "expired: its file was due to go"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.why) {
            BOOST_TEST(is_orphan(export_file_kind::partial, c.status) == c.partial_goes);
            BOOST_TEST(is_orphan(export_file_kind::finished, c.status) == c.finished_goes);
        }
    }
}

BOOST_AUTO_TEST_CASE(sweep_period) {
    struct item {
        std::chrono::milliseconds retention;
        std::chrono::milliseconds base;
    };
    const item cases[] = {
        {2s, 500ms},                  // a quarter of the retention
        {100s, 25s},
        {240s, 60s},
        {std::chrono::hours(24 * 7), 60s}, // at most a minute
        {200ms, 100ms},               // at least 100 ms
        {1ms, 100ms},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("retention " << c.retention.count() << " ms") {
            BOOST_TEST(sweep_interval(c.retention, 0.5).count() == c.base.count());
            BOOST_TEST(sweep_interval(c.retention, 0.0).count() == c.base.count() * 8 / 10);
            const auto high = sweep_interval(c.retention, 0.999999).count();
            BOOST_TEST(high > c.base.count());
            BOOST_TEST(high <= c.base.count() * 12 / 10);
        }
    }
    // Out-of-range randomness is clamped, not trusted.
    BOOST_TEST(sweep_interval(2s, -3.0).count() == 400);
    BOOST_TEST(sweep_interval(2s, 7.0).count() == 600);
}

BOOST_AUTO_TEST_CASE(expiry_of_each_status) {
    job_info job;
    const timestamp finished = timestamp(std::chrono::seconds(1'700'000'000));
    job.finished_at = finished;
    for (auto status : {job_status::completed, job_status::failed, job_status::cancelled, job_status::expired}) {
        BOOST_TEST_CONTEXT(to_string(status)) {
            job.status = status;
            const auto at = expiry_of(job, 90s);
            BOOST_TEST_REQUIRE(at.has_value());
            BOOST_TEST((*at - finished == std::chrono::seconds(90)));
        }
    }
    for (auto status : {job_status::queued, job_status::running}) {
        BOOST_TEST_CONTEXT(to_string(status)) {
            job.status = status;
            BOOST_TEST(!expiry_of(job, 90s).has_value());
        }
    }
    job.status = job_status::completed;
    job.finished_at.reset();
    BOOST_TEST(!expiry_of(job, 90s).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
