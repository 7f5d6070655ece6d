// Every HTTP-level error code maps to a 4xx or 5xx and a distinct snake_case name.
#include "http_error.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace pgexport::http;

BOOST_AUTO_TEST_CASE(codes_are_distinct_and_statuses_are_errors) {
    std::set<std::string_view> names;
    for (int i = 0; i <= static_cast<int>(http_errc::too_many_connections); ++i) {
        const auto code = static_cast<http_errc>(i);
        const auto name = to_string(code);
        const auto status = static_cast<unsigned>(status_for(code));
        BOOST_TEST((status >= 400 && status < 600), name << " -> " << status);
        BOOST_TEST(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos, name);
        BOOST_TEST(names.insert(name).second, "twice: " << name);
    }
    BOOST_TEST(static_cast<unsigned>(status_for(http_errc::misdirected_request)) == 421u);
    BOOST_TEST(static_cast<unsigned>(status_for(http_errc::unsupported_media_type)) == 415u);
    BOOST_TEST(static_cast<unsigned>(status_for(http_errc::forbidden_origin)) == 403u);
}
