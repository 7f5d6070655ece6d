// A job's status as text, its request serialized once per job and kept within a byte bound.
#include "api_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

using namespace pgexport;
using namespace pgexport::http;
namespace json = boost::json;

namespace {

engine::job_info job_with_values(const std::string& id, int values) {
    engine::job_info job;
    job.id = id;
    job.status = engine::job_status::completed;
    job.file_path = "/data/" + id + ".csv";
    engine::filter f;
    f.column = "id";
    f.op = engine::filter_op::in;
    for (int i = 0; i < values; ++i)
        f.values.emplace_back(std::to_string(i));
    job.request.filters.push_back(f);
    job.request.columns = {"id", "name"};
    return job;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_text_is_the_status_json) {
    request_texts cache;
    for (int values : {0, 3, 5000}) {
        const auto job = job_with_values("a", values);
        for (const std::optional<std::string>& url : {std::optional<std::string>{},
                                                       std::optional<std::string>("/signed?x=1")}) {
            const std::string text = job_json_text(job, cache, url);
            BOOST_TEST(json::parse(text) == json::value(job_json(job, url)));
        }
    }
}

BOOST_AUTO_TEST_CASE(large_requests_are_serialized_once_and_small_ones_not_kept) {
    request_texts cache(1 << 20, 4096);
    const auto small = job_with_values("small", 3);
    const auto large = job_with_values("large", 5000);
    BOOST_TEST(cache.get(small) != cache.get(small)); // made anew each time
    BOOST_TEST(cache.size() == 0u);
    const auto first = cache.get(large);
    BOOST_TEST(first->size() >= 4096u);
    BOOST_TEST(cache.get(large) == first); // the same text, not serialized again
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(cache.bytes() == first->size());
}

BOOST_AUTO_TEST_CASE(the_cache_keeps_within_its_bytes_oldest_out_first) {
    const std::size_t one = request_texts().get(job_with_values("probe", 5000))->size();
    request_texts cache(3 * one, 4096); // room for three
    for (int i = 0; i < 5; ++i)
        cache.get(job_with_values("job" + std::to_string(i), 5000));
    BOOST_TEST(cache.size() == 3u);
    BOOST_TEST(cache.bytes() <= 3 * one);
    // job0 and job1 went; job4 is kept.
    const auto kept = cache.get(job_with_values("job4", 5000));
    BOOST_TEST(cache.get(job_with_values("job4", 5000)) == kept);
    BOOST_TEST(cache.size() == 3u);
    // A request larger than the whole cache is served but never kept.
    request_texts tiny(100, 10);
    tiny.get(job_with_values("huge", 5000));
    BOOST_TEST(tiny.size() == 0u);
    BOOST_TEST(tiny.bytes() == 0u);
}
