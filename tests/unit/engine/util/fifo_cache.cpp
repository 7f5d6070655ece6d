// The byte-bounded cache of values that never change: what it keeps, what it drops, and in which order.
#include "util/fifo_cache.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

using pgexport::engine::detail::fifo_cache;

namespace {

std::shared_ptr<const std::string> value(std::size_t bytes, char c = 'x') {
    return std::make_shared<const std::string>(bytes, c);
}

} // namespace

BOOST_AUTO_TEST_CASE(keeps_values_worth_keeping) {
    fifo_cache<std::string> cache(1000, 100);
    const auto big = value(200);
    cache.insert("a", big, big->size());
    BOOST_TEST(cache.find("a") == big); // the same object, not a copy
    BOOST_TEST(!cache.find("b"));
    cache.insert("small", value(99), 99); // cheaper to make again than to hold
    BOOST_TEST(!cache.find("small"));
    cache.insert("huge", value(1001), 1001); // over the whole budget
    BOOST_TEST(!cache.find("huge"));
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(cache.bytes() == 200u);
}

BOOST_AUTO_TEST_CASE(oldest_out_first_within_the_budget) {
    fifo_cache<std::string> cache(1000, 100);
    for (const char* key : {"a", "b", "c", "d"})
        cache.insert(key, value(300, key[0]), 300);
    // Four of 300 bytes pass 1,000: the first in went out, the rest stay.
    BOOST_TEST(!cache.find("a"));
    BOOST_TEST(*cache.find("b") == std::string(300, 'b'));
    BOOST_TEST(*cache.find("d") == std::string(300, 'd'));
    BOOST_TEST(cache.bytes() == 900u);
    BOOST_TEST(cache.size() == 3u);
    // One as large as the budget pushes everything else out.
    cache.insert("e", value(1000), 1000);
    BOOST_TEST(!cache.find("b"));
    BOOST_TEST(!cache.find("d"));
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(cache.bytes() == 1000u);
}

BOOST_AUTO_TEST_CASE(a_key_is_kept_once) {
    fifo_cache<std::string> cache(1000, 100);
    const auto first = value(300, '1');
    cache.insert("a", first, 300);
    cache.insert("a", value(300, '2'), 300);
    BOOST_TEST(cache.find("a") == first);
    BOOST_TEST(cache.bytes() == 300u);
    // A value dropped while a caller holds it stays valid for that caller.
    const auto held = cache.find("a");
    cache.insert("b", value(1000), 1000);
    BOOST_TEST(!cache.find("a"));
    BOOST_TEST(*held == std::string(300, '1'));
}
