// Snapshot-consistent exports' decisions: when a job whose snapshot was lost goes on under a new one, and
// when it starts over; the recorded snapshot's JSON and pg_snapshot's text; the keepalive and the age.

#include "snapshot/snapshot_resume.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace pgexport::engine::detail;
using std::chrono::milliseconds;

namespace {

recorded_snapshot s1() {
    recorded_snapshot s;
    s.id = "00000003-0000001B-1";
    s.xmin = 4'294'967'396; // the second epoch: 2^32 + 100
    s.xmax = 4'294'967'410;
    s.xip = {4'294'967'396, 4'294'967'401};
    s.taken_at_us = 1'700'000'000'123'456;
    s.lsn = (std::uint64_t{0x16} << 32) | 0xB374D848;
    s.system_id = "7300000000000000001";
    s.standby = false;
    s.end = 1'000'000;
    return s;
}

snapshot_check unchanged(std::vector<prefix_count> prefixes) {
    snapshot_check c;
    c.system_id = "7300000000000000001";
    c.lsn_before = s1().lsn + 4096;
    c.xmax = s1().xmax + 5000;
    c.prefixes = std::move(prefixes);
    return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(snapshot_resume)

BOOST_AUTO_TEST_CASE(the_same_rows_go_on_under_the_new_snapshot) {
    const auto d = decide_snapshot_resume(s1(), unchanged({{"keys up to 5000", 4321, 4321, 0}}));
    BOOST_TEST((d.action == snapshot_resume_action::go_on));
    BOOST_TEST(d.reason == "the 4321 rows written are unchanged under the new snapshot");
    // Every slice's range the same: on.
    const auto slices = decide_snapshot_resume(
        s1(), unchanged({{"slice 1", 10, 10, 0}, {"slice 2", 0, 0, 0}, {"slice 3", 1, 1, 0}}));
    BOOST_TEST((slices.action == snapshot_resume_action::go_on));
    BOOST_TEST(slices.reason == "the 11 rows written are unchanged under the new snapshot");
}

BOOST_AUTO_TEST_CASE(each_failed_check_restarts_and_says_why) {
    struct row {
        std::string what;
        snapshot_check check;
        std::string reason;
    };
    auto with = [](auto change) {
        snapshot_check c = unchanged({{"keys up to 5000", 100, 100, 0}});
        change(c);
        return c;
    };
    const std::vector<row> rows = {
        {"a changed row", with([](snapshot_check& c) { c.prefixes[0].changed = 1; }),
         "keys up to 5000: 1 row inserted or updated since the recorded snapshot (or in a transaction it saw in "
         "progress)"},
        {"an update that moved a row out and another in (count unchanged)",
         with([](snapshot_check& c) { c.prefixes[0].changed = 2; }),
         "keys up to 5000: 2 rows inserted or updated since the recorded snapshot (or in a transaction it saw in "
         "progress)"},
        {"a deletion", with([](snapshot_check& c) { c.prefixes[0].visible = 97; }),
         "keys up to 5000: 3 rows fewer than written (deleted, or updated out of the filters)"},
        {"more rows than written", with([](snapshot_check& c) { c.prefixes[0].visible = 101; }),
         "keys up to 5000: 1 row more than written"},
        {"another cluster", with([](snapshot_check& c) { c.system_id = "42"; }),
         "the new snapshot was taken on another database cluster (system identifier 42, the recorded snapshot's "
         "7300000000000000001)"},
        {"an older new snapshot (a standby behind)", with([](snapshot_check& c) { c.lsn_before = s1().lsn - 1; }),
         "the new snapshot may be older than the recorded one (WAL position 16/B374D847 before it, 16/B374D848 "
         "after the recorded one): a standby behind or rebuilt"},
        {"2^31 transaction ids since the recorded xmin",
         with([](snapshot_check& c) { c.xmax = s1().xmin + (std::uint64_t{1} << 31); }),
         "the new snapshot's transaction ids (xmax 6442451044) are not within 2^31 above the recorded snapshot's "
         "xmin (4294967396): a tuple's xmin could not be compared"},
        {"a new xmax below the recorded xmin", with([](snapshot_check& c) { c.xmax = s1().xmin - 1; }),
         "the new snapshot's transaction ids (xmax 4294967395) are not within 2^31 above the recorded snapshot's "
         "xmin (4294967396): a tuple's xmin could not be compared"},
        {"a view", with([](snapshot_check& c) { c.has_xmin = false; }),
         "the exported relation is not a table: its rows have no xmin to compare"},
        {"the second slice changed", unchanged({{"slice 1", 5, 5, 0}, {"slice 2", 5, 5, 1}, {"slice 3", 5, 4, 0}}),
         "slice 2: 1 row inserted or updated since the recorded snapshot (or in a transaction it saw in progress)"},
        {"a done slice that holds a row it did not", unchanged({{"slice 1", 0, 1, 1}}),
         "slice 1: 1 row inserted or updated since the recorded snapshot (or in a transaction it saw in progress)"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            const auto d = decide_snapshot_resume(s1(), r.check);
            BOOST_TEST((d.action == snapshot_resume_action::restart));
            BOOST_TEST(d.reason == r.reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_same_position_is_not_older) {
    auto c = unchanged({{"keys up to 5000", 100, 100, 0}});
    c.lsn_before = s1().lsn;
    BOOST_TEST((decide_snapshot_resume(s1(), c).action == snapshot_resume_action::go_on));
}

BOOST_AUTO_TEST_CASE(ids_just_within_2_to_the_31_go_on) {
    auto c = unchanged({{"keys up to 5000", 100, 100, 0}});
    c.xmax = s1().xmin + (std::uint64_t{1} << 31) - 1;
    BOOST_TEST((decide_snapshot_resume(s1(), c).action == snapshot_resume_action::go_on));
    c.xmax = s1().xmin;
    BOOST_TEST((decide_snapshot_resume(s1(), c).action == snapshot_resume_action::go_on));
}

BOOST_AUTO_TEST_CASE(an_unknown_system_identifier_is_no_reason) {
    auto c = unchanged({{"keys up to 5000", 100, 100, 0}});
    c.system_id.reset(); // the role may not read pg_control_system()
    BOOST_TEST((decide_snapshot_resume(s1(), c).action == snapshot_resume_action::go_on));
    auto recorded = s1();
    recorded.system_id.reset();
    c.system_id = "42";
    BOOST_TEST((decide_snapshot_resume(recorded, c).action == snapshot_resume_action::go_on));
}

BOOST_AUTO_TEST_CASE(nothing_written_goes_on_whatever_else) {
    snapshot_check c;
    c.system_id = "42";
    c.lsn_before = 0;
    c.has_xmin = false;
    BOOST_TEST((decide_snapshot_resume(s1(), c).action == snapshot_resume_action::go_on));
    BOOST_TEST((decide_snapshot_resume(std::nullopt, snapshot_check{}).action == snapshot_resume_action::go_on));
    BOOST_TEST(decide_snapshot_resume(std::nullopt, snapshot_check{}).reason == "no row was written yet");
}

BOOST_AUTO_TEST_CASE(rows_without_a_recorded_snapshot_restart) {
    const auto d = decide_snapshot_resume(std::nullopt, unchanged({{"keys up to 5000", 100, 100, 0}}));
    BOOST_TEST((d.action == snapshot_resume_action::restart));
    BOOST_TEST(d.reason == "rows were written under no recorded snapshot");
}

BOOST_AUTO_TEST_CASE(the_recorded_snapshot_reads_back) {
    recorded_snapshot s = s1();
    s.reason = "went on under a new snapshot, the one before lost: the 1 row written is unchanged";
    const std::string text = snapshot_to_json(s);
    BOOST_TEST(text.find("\"lsn\":\"16/B374D848\"") != std::string::npos);
    const auto back = snapshot_from_json(text);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST((*back == s));
    recorded_snapshot bare = s;
    bare.system_id.reset();
    bare.end.reset();
    bare.reason.reset();
    bare.xip.clear();
    bare.standby = true;
    BOOST_TEST((snapshot_from_json(snapshot_to_json(bare)) == bare));
    for (const std::string bad : {"", "[]", "{}", "{\"id\":1}", "not json",
                                  R"({"id":"a","xmin":1,"xmax":2,"xip":[],"takenAtUs":1,"lsn":"nope"})",
                                  R"({"id":"a","xmin":-1,"xmax":2,"xip":[],"takenAtUs":1,"lsn":"0/1"})",
                                  R"({"id":"a","xmin":1,"xmax":2,"xip":["x"],"takenAtUs":1,"lsn":"0/1"})"}) {
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(!snapshot_from_json(bad).has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(parses_pg_snapshot_text) {
    const auto s = parse_pg_snapshot("4294967396:4294967410:4294967396,4294967401");
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(s->xmin == 4'294'967'396u);
    BOOST_TEST(s->xmax == 4'294'967'410u);
    BOOST_TEST((s->xip == std::vector<std::uint64_t>{4'294'967'396u, 4'294'967'401u}));
    const auto empty = parse_pg_snapshot("741:741:");
    BOOST_REQUIRE(empty.has_value());
    BOOST_TEST(empty->xip.empty());
    for (const std::string bad : {"", "1", "1:2", "2:1:", "1:2:3", "1:5:2,", "a:b:", "1:5:0", "-1:2:", "1:5:2,,3"}) {
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(!parse_pg_snapshot(bad).has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(keepalive_beats_the_idle_timeout) {
    BOOST_TEST(snapshot_keepalive_interval(milliseconds(0)).count() == 10'000);
    BOOST_TEST(snapshot_keepalive_interval(milliseconds(3000)).count() == 1000);
    BOOST_TEST(snapshot_keepalive_interval(milliseconds(60'000)).count() == 10'000);
    BOOST_TEST(snapshot_keepalive_interval(milliseconds(90)).count() == 100);
}

BOOST_AUTO_TEST_CASE(too_old_past_the_limit_only) {
    using std::chrono::hours;
    BOOST_TEST(!snapshot_too_old(hours(5), milliseconds(hours(6))));
    BOOST_TEST(!snapshot_too_old(hours(6), milliseconds(hours(6))));
    BOOST_TEST(snapshot_too_old(hours(6) + milliseconds(1), milliseconds(hours(6))));
    BOOST_TEST(!snapshot_too_old(hours(1000), milliseconds(0))); // no limit
}

BOOST_AUTO_TEST_SUITE_END()
