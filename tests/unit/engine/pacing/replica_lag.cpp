// --replica's decisions: pg_lsn text, when a standby has replayed far enough, and the reasons a job shows
// while it waits.

#include "pacing/replica_lag.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace pgexport::engine::detail;

BOOST_AUTO_TEST_SUITE(replica_lag)

BOOST_AUTO_TEST_CASE(parses_lsn_text) {
    struct row {
        std::string text;
        std::optional<std::uint64_t> value;
    };
    const row rows[] = {
        {"0/0", 0},
        {"0/16B3748", 0x16B3748},
        {"16/B374D848", (std::uint64_t{0x16} << 32) | 0xB374D848},
        {"FFFFFFFF/FFFFFFFF", UINT64_MAX},
        {"ffffffff/0", std::uint64_t{0xFFFFFFFF} << 32},
        {"", std::nullopt},
        {"0", std::nullopt},
        {"/1", std::nullopt},
        {"1/", std::nullopt},
        {"1/2/3", std::nullopt},
        {"G/1", std::nullopt},
        {"100000000/0", std::nullopt}, // a half has 32 bits
        {" 1/2", std::nullopt},
        {"-1/2", std::nullopt},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("\"" << r.text << "\"") {
            BOOST_TEST((parse_lsn(r.text) == r.value));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_standby_past_the_position_is_ready) {
    BOOST_TEST(judge_replica(100, {true, 100, false}).ready); // exactly there: the commit is replayed
    BOOST_TEST(judge_replica(100, {true, 5000, false}).ready);
    BOOST_TEST(judge_replica(100, {true, 5000, true}).ready);  // paused, but past the position
    BOOST_TEST(judge_replica(100, {false, 100, false}).ready); // promoted after it replayed the position
    BOOST_TEST(judge_replica(0, {true, 0, false}).ready);
}

BOOST_AUTO_TEST_CASE(a_standby_behind_says_by_how_much) {
    const auto v = judge_replica(100 + 3 * 1024 * 1024 / 2, {true, 100, false});
    BOOST_TEST(!v.ready);
    BOOST_TEST(v.waiting == "replica behind by 1.5 MiB of WAL");
    BOOST_TEST(judge_replica(101, {true, 100, false}).waiting == "replica behind by 1 bytes of WAL");
    BOOST_TEST(judge_replica(2148, {true, 100, false}).waiting == "replica behind by 2.0 KiB of WAL");
    BOOST_TEST(judge_replica(std::uint64_t{3} << 30, {true, 0, false}).waiting ==
               "replica behind by 3.0 GiB of WAL");
}

BOOST_AUTO_TEST_CASE(a_paused_replay_is_named) {
    const auto v = judge_replica(2148, {true, 100, true});
    BOOST_TEST(!v.ready);
    BOOST_TEST(v.waiting.starts_with("replica behind by 2.0 KiB of WAL"));
    BOOST_TEST(v.waiting.find("paused") != std::string::npos);
    BOOST_TEST(v.waiting.find("pg_wal_replay_resume()") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_server_that_is_no_standby_is_never_ready) {
    const auto v = judge_replica(100, {false, std::nullopt, false});
    BOOST_TEST(!v.ready);
    BOOST_TEST(v.waiting.starts_with("replica is not a standby"));
    BOOST_TEST(v.waiting.find("--replica") != std::string::npos);
    // Promoted before it reached the position: it never will.
    const auto promoted = judge_replica(100, {false, 50, false});
    BOOST_TEST(!promoted.ready);
    BOOST_TEST(promoted.waiting.find("no longer in recovery") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreachable_standby_gives_one_line) {
    BOOST_TEST(
        replica_unreachable_reason("connection to server at \"127.0.0.1\", port 5 failed: Connection "
                                   "refused\n\tIs the server running on that host?\n") ==
        "replica unreachable: connection to server at \"127.0.0.1\", port 5 failed: Connection refused "
        "Is the server running on that host?");
    BOOST_TEST(replica_unreachable_reason("") == "replica unreachable: ");
}

BOOST_AUTO_TEST_SUITE_END()
