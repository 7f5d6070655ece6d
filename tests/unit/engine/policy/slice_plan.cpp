// A parallel export's slices: cuts from a sample (gaps, skew, empty, fewer keys than slices), even key
// ranges, the state the checkpoints record, and lastProcessedId. No I/O.

#include "policy/slice_plan.hpp"

#include <boost/test/unit_test.hpp>

#include <numeric>
#include <sstream>
#include <vector>

using namespace pgexport::engine::detail;

namespace {

std::string show(const std::vector<slice_bounds>& slices) {
    std::ostringstream out;
    for (const auto& s : slices) {
        out << '(';
        if (s.after)
            out << *s.after;
        out << ".." << s.upper << ']';
    }
    return out.str();
}

// How many of `keys` each slice holds; every key must fall in exactly one.
std::vector<std::size_t> counts(const std::vector<slice_bounds>& slices, const std::vector<std::int64_t>& keys) {
    std::vector<std::size_t> n(slices.size());
    for (const auto k : keys) {
        int found = 0;
        for (std::size_t i = 0; i < slices.size(); ++i)
            if ((!slices[i].after || k > *slices[i].after) && k <= slices[i].upper) {
                ++n[i];
                ++found;
            }
        BOOST_TEST_REQUIRE(found == 1, "key " << k << " is in " << found << " slices of " << show(slices));
    }
    return n;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> keys(static_cast<std::size_t>(to - from + 1));
    std::iota(keys.begin(), keys.end(), from);
    return keys;
}

} // namespace

BOOST_AUTO_TEST_SUITE(slice_plan)

BOOST_AUTO_TEST_CASE(small_selections_get_fewer_slices) {
    struct item {
        int requested;
        std::optional<std::int64_t> estimate;
        std::int64_t min_rows;
        int slices;
    };
    constexpr std::int64_t huge = INT64_MAX;
    const item cases[] = {
        {4, 0, 200000, 1},                // an empty selection
        {4, -1, 200000, 1},               // nonsense from the planner: still one
        {4, 1, 200000, 1},
        {4, 199999, 200000, 1},
        {4, 200000, 200000, 1},           // exactly one slice's worth
        {4, 399999, 200000, 1},
        {4, 400000, 200000, 2},           // exactly two slices' worth
        {4, 600000, 200000, 3},
        {4, 800000, 200000, 4},
        {4, 1000000, 200000, 4},          // never more than asked
        {16, huge, 200000, 16},           // no overflow
        {16, huge, huge, 1},
        {1, 1000000, 200000, 1},          // one asked, one given
        {1, huge, 1, 1},
        {0, 1000000, 200000, 1},          // below one: one
        {16, 3, 1, 16},                   // 1: always as asked (the plan itself gives fewer than rows)
        {16, 0, 0, 16},                   // 0: the same
        {7, std::nullopt, 200000, 7},     // no estimate: as asked
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("requested " << c.requested << ", estimate " << c.estimate.value_or(-2) << ", min "
                                        << c.min_rows) {
            BOOST_TEST(slice_count(c.requested, c.estimate, c.min_rows) == c.slices);
        }
    }
}

BOOST_AUTO_TEST_CASE(cuts_from_a_sample) {
    struct item {
        std::vector<std::int64_t> sample;
        std::int64_t end;
        int n;
        std::string slices;
    };
    const item cases[] = {
        {range(1, 100), 100, 4, "(..25](25..50](50..75](75..100]"},
        {range(1, 100), 100, 1, "(..100]"},
        {range(1, 100), 100, 3, "(..34](34..67](67..100]"},
        {{}, 100, 4, "(..100]"},                              // an empty table or selection
        {{7}, 100, 4, "(..100]"},                             // one row: one slice
        {{7, 9, 50}, 100, 16, "(..7](7..9](9..100]"},        // fewer rows than slices
        {{7, 9, 100}, 100, 16, "(..7](7..9](9..100]"},       // the last key is the fixed end
        {{5, 5, 5, 5, 5, 5, 5, 9}, 9, 4, "(..5](5..9]"},      // repeated sample keys (histogram bounds)
        {range(1, 100), 50, 2, "(..25](25..50]"},            // keys past the fixed end are ignored
        {{1, 2, 3, 1000000, 1000001, 1000002}, 1000002, 2, "(..3](3..1000002]"}, // a gap: rows, not keys
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("n=" << c.n << " end=" << c.end << " sample of " << c.sample.size()) {
            BOOST_TEST(show(slices_from_sample(c.sample, std::nullopt, c.end, c.n)) == c.slices);
        }
    }
}

BOOST_AUTO_TEST_CASE(skewed_rows_are_balanced_by_rows_not_keys) {
    // 90 % of the rows in the first tenth of the key range.
    std::vector<std::int64_t> keys;
    for (std::int64_t k = 1; k <= 9000; ++k)
        keys.push_back(k);
    for (std::int64_t k = 1; k <= 1000; ++k)
        keys.push_back(9000 + k * 81);
    const auto slices = slices_from_sample(keys, std::nullopt, keys.back(), 4);
    BOOST_TEST_REQUIRE(slices.size() == 4u);
    for (const auto n : counts(slices, keys))
        BOOST_TEST(n == 2500u);
    // The same from a sample of every tenth key: within a tenth.
    std::vector<std::int64_t> sample;
    for (std::size_t i = 0; i < keys.size(); i += 10)
        sample.push_back(keys[i]);
    for (const auto n : counts(slices_from_sample(sample, std::nullopt, keys.back(), 4), keys))
        BOOST_TEST((n >= 2250u && n <= 2750u), n);
}

BOOST_AUTO_TEST_CASE(even_key_ranges) {
    BOOST_TEST(show(even_slices(std::nullopt, 1, 100, 4)) == "(..25](25..50](50..75](75..100]");
    BOOST_TEST(show(even_slices(std::nullopt, 1, 3, 16)) == "(..1](1..2](2..3]");
    BOOST_TEST(show(even_slices(std::nullopt, 5, 5, 3)) == "(..5]");
    BOOST_TEST(show(even_slices(std::nullopt, 10, 5, 3)) == "(..5]"); // nothing to cut
    BOOST_TEST(show(even_slices(std::nullopt, 1, 100, 1)) == "(..100]");
    // The whole of bigint: no overflow, contiguous.
    const auto wide = even_slices(std::nullopt, INT64_MIN + 1, INT64_MAX, 3);
    BOOST_TEST_REQUIRE(wide.size() == 3u);
    BOOST_TEST(!wide[0].after.has_value());
    BOOST_TEST(*wide[1].after == wide[0].upper);
    BOOST_TEST(*wide[2].after == wide[1].upper);
    BOOST_TEST(wide[2].upper == INT64_MAX);
}

BOOST_AUTO_TEST_CASE(an_incremental_range_starts_after_its_from_key) {
    // "since": the range is (from .. fixed end]; the first slice starts there, and a cut at or below it
    // (a histogram bound of the whole column) is dropped.
    BOOST_TEST(show(slices_from_sample(range(1, 100), 60, 100, 2)) == "(60..100]"); // every cut was below
    BOOST_TEST(show(slices_from_sample(range(61, 100), 60, 100, 2)) == "(60..80](80..100]");
    BOOST_TEST(show(slices_from_sample({}, 60, 100, 4)) == "(60..100]");
    BOOST_TEST(show(slices_from_sample({}, 60, 60, 4)) == "(60..60]"); // nothing new: one empty slice
    BOOST_TEST(show(even_slices(60, 61, 100, 4)) == "(60..70](70..80](80..90](90..100]");
    BOOST_TEST(show(even_slices(60, 61, 61, 4)) == "(60..61]");
    const auto keys = range(121, 300); // every key above 120 in exactly one slice, and nothing at or below
    for (int n = 1; n <= 16; ++n) {
        BOOST_TEST_CONTEXT("n=" << n) {
            for (const auto& slices :
                 {slices_from_sample(range(1, 300), 120, 300, n), even_slices(120, 121, 300, n)}) {
                BOOST_TEST((slices.front().after == std::optional<std::int64_t>(120)));
                std::size_t total = 0;
                for (const auto c : counts(slices, keys))
                    total += c;
                BOOST_TEST(total == keys.size());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(slices_cover_every_key_once) {
    const auto keys = range(-50, 300);
    for (int n = 1; n <= 16; ++n) {
        BOOST_TEST_CONTEXT("n=" << n) {
            std::size_t total = 0;
            for (const auto c : counts(slices_from_sample(keys, std::nullopt, 300, n), keys))
                total += c;
            BOOST_TEST(total == keys.size());
            total = 0;
            for (const auto c : counts(even_slices(std::nullopt, -50, 300, n), keys))
                total += c;
            BOOST_TEST(total == keys.size());
        }
    }
}

BOOST_AUTO_TEST_CASE(progress_of_a_parallel_job) {
    auto s = initial_states({{std::nullopt, 10}, {10, 20}, {20, 30}});
    BOOST_TEST(!watermark(s).has_value()); // nothing written, no lower bound
    BOOST_TEST(!all_done(s));
    s[1].last = 15; // a later slice's progress says nothing about the first
    s[1].rows = 5;
    s[1].bytes = 50;
    BOOST_TEST(!watermark(s).has_value());
    s[0].last = 4;
    s[0].rows = 4;
    s[0].bytes = 40;
    BOOST_TEST(*watermark(s) == 4);
    s[0].done = true; // done: its whole range is written, gaps included
    BOOST_TEST(*watermark(s) == 15);
    s[1].done = true;
    BOOST_TEST(*watermark(s) == 20); // the third slice has not started: its lower bound
    BOOST_TEST((s[2].cursor() == std::optional<std::int64_t>(20)));
    s[2].done = true; // empty
    BOOST_TEST(all_done(s));
    BOOST_TEST(*watermark(s) == 30);
    const auto t = totals_of(s);
    BOOST_TEST(t.rows == 9);
    BOOST_TEST(t.bytes == 90);
    BOOST_TEST(!watermark(std::vector<slice_state>{}).has_value());
}

BOOST_AUTO_TEST_CASE(stored_and_read_back) {
    auto s = initial_states({{std::nullopt, 10}, {10, INT64_MAX}});
    s[0].last = 9;
    s[0].rows = 3;
    s[0].bytes = 123;
    s[0].done = true;
    const auto back = slices_from_json(slices_to_json(s));
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST((*back == s));
    BOOST_TEST(!slices_from_json("").has_value());
    BOOST_TEST(!slices_from_json("{}").has_value());
    BOOST_TEST(!slices_from_json("[{\"after\": 1}]").has_value()); // no upper bound
    BOOST_TEST(!slices_from_json("[{\"upper\": \"x\"}]").has_value());
    BOOST_TEST(slices_from_json("[]")->empty());
}

BOOST_AUTO_TEST_SUITE_END()
