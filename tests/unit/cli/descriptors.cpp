// The connection cap that serve derives from its descriptor limit. No I/O.

#include "descriptors.hpp"

#include <boost/test/unit_test.hpp>

using pgexport::cli::connection_cap;

BOOST_AUTO_TEST_SUITE(descriptors)

BOOST_AUTO_TEST_CASE(half_of_what_is_left_after_the_reserve) {
    struct item {
        std::uint64_t descriptors;
        int jobs;
        std::size_t cap;
    };
    const item cases[] = {
        {1024, 2, (1024 - 64 - 16) / 2}, // the usual default soft limit: 472, not the old fixed 1,000
        {20000, 2, (20000 - 64 - 16) / 2},
        {65536, 16, (65536 - 64 - 128) / 2},
        {1 << 20, 2, 100000}, // at most 100,000
        {100, 2, 10},
        {82, 2, 1}, // nothing left after the reserve: still one connection
        {10, 2, 1},
        {0, 0, 1},
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.descriptors << " descriptors, " << c.jobs << " jobs") {
            BOOST_TEST(connection_cap(c.descriptors, c.jobs) == c.cap);
        }
}

BOOST_AUTO_TEST_CASE(connections_and_jobs_fit_in_the_limit) {
    // Whatever the limit, every connection holding a socket and a file, plus the jobs' reserve, fits.
    for (std::uint64_t n : {100u, 256u, 1024u, 4096u, 20000u, 65536u})
        for (int jobs : {1, 2, 8, 64}) {
            const std::uint64_t cap = connection_cap(n, jobs);
            const std::uint64_t reserve = 64 + 8 * static_cast<std::uint64_t>(jobs);
            if (n > reserve + 2)
                BOOST_TEST(2 * cap + reserve <= n, n << " descriptors, " << jobs << " jobs");
        }
}

BOOST_AUTO_TEST_SUITE_END()
