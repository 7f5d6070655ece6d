// Command-line options with environment fallbacks. No I/O.

#include "options.hpp"

#include <boost/test/unit_test.hpp>

#include <map>

using namespace pgexport::cli;

namespace {

const std::vector<option_spec> specs = {
    {"database", "URL", "db", "", "DATABASE_URL"},
    {"listen", "HOST:PORT", "addr", "127.0.0.1:8080", "PGEXPORT_LISTEN"},
    {"rows", "N", "rows", "", ""},
    {"api-key", "KEY", "key", "", "PGEXPORT_API_KEYS", true},
    {"quiet", "", "quiet", "", ""},
};

auto env(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

} // namespace

BOOST_AUTO_TEST_SUITE(options_parsing)

BOOST_AUTO_TEST_CASE(flag_wins_over_environment_over_default) {
    options none(specs, {}, env({}));
    BOOST_TEST(*none.get("listen") == "127.0.0.1:8080");
    BOOST_TEST(!none.get("database"));
    options from_env(specs, {}, env({{"PGEXPORT_LISTEN", "0.0.0.0:1"}, {"DATABASE_URL", "postgres://x"}}));
    BOOST_TEST(*from_env.get("listen") == "0.0.0.0:1");
    BOOST_TEST(*from_env.get("database") == "postgres://x");
    options flag(specs, {"--listen", "h:2", "--database=postgres://y"},
                 env({{"PGEXPORT_LISTEN", "0.0.0.0:1"}}));
    BOOST_TEST(*flag.get("listen") == "h:2");
    BOOST_TEST(*flag.get("database") == "postgres://y");
}

BOOST_AUTO_TEST_CASE(repeatable_and_flags) {
    options o(specs, {"--api-key", "a", "--api-key=b", "--quiet"}, env({}));
    BOOST_TEST(o.all("api-key") == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST(o.flag("quiet"));
    options e(specs, {}, env({{"PGEXPORT_API_KEYS", "k1,k2"}}));
    BOOST_TEST(e.all("api-key") == (std::vector<std::string>{"k1", "k2"}));
    BOOST_TEST(!e.flag("quiet"));
}

BOOST_AUTO_TEST_CASE(errors_name_the_option) {
    auto message = [](std::vector<std::string> args) {
        try {
            options o(specs, args, env({}));
            o.get_int("rows", 0, 100);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    BOOST_TEST(message({"--nope"}).find("--nope") != std::string::npos);
    BOOST_TEST(message({"--rows"}).find("needs a value") != std::string::npos);
    BOOST_TEST(message({"--rows", "x"}).find("whole number") != std::string::npos);
    BOOST_TEST(message({"--rows", "101"}).find("from 0 to 100") != std::string::npos);
    BOOST_TEST(message({"--rows", "1", "--rows", "2"}).find("twice") != std::string::npos);
    BOOST_TEST(message({"--quiet=yes"}).find("takes no value") != std::string::npos);
    BOOST_TEST(message({"stray"}).find("stray") != std::string::npos);
    BOOST_TEST(message({"--rows", "5"}).empty());
}

BOOST_AUTO_TEST_CASE(help_is_recognised_and_lists_options) {
    options o(specs, {"--help"}, env({}));
    BOOST_TEST(o.help());
    const std::string text = usage("serve", "Serves.", specs);
    BOOST_TEST(text.find("--listen HOST:PORT") != std::string::npos);
    BOOST_TEST(text.find("[127.0.0.1:8080]") != std::string::npos);
    BOOST_TEST(text.find("PGEXPORT_API_KEYS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(durations) {
    BOOST_TEST(parse_duration("500ms").value().count() == 500);
    BOOST_TEST(parse_duration("15s").value().count() == 15000);
    BOOST_TEST(parse_duration("10m").value().count() == 600000);
    BOOST_TEST(parse_duration("2h").value().count() == 7200000);
    BOOST_TEST(parse_duration("7d").value().count() == 604800000);
    BOOST_TEST(parse_duration("0s").value().count() == 0);
    for (const char* bad : {"", "s", "15", "15 s", "1.5s", "-1s", "15S", "15sec", "ms", "99999999999999999d", " 1s"})
        BOOST_TEST(!parse_duration(bad).has_value(), "accepted \"" << bad << "\"");
}

BOOST_AUTO_TEST_CASE(sizes) {
    struct item {
        const char* text;
        std::uint64_t bytes;
    };
    const item good[] = {
        {"0", 0},
        {"4096", 4096},
        {"4096B", 4096},
        {"512KiB", 512ull << 10},
        {"64MiB", 64ull << 20},
        {"1GiB", 1ull << 30},
        {"3TiB", 3ull << 40},
        {"16777215TiB", 16777215ull << 40}, // the largest TiB count that fits in 64 bits
        {"18446744073709551615", 18446744073709551615ull},
    };
    for (const auto& g : good)
        BOOST_TEST_CONTEXT("\"" << g.text << "\"") {
            BOOST_TEST(parse_size(g.text).value_or(1) == g.bytes);
        }
    for (const char* bad : {"", "GiB", "1 GiB", "1.5GiB", "-1GiB", "+1GiB", "1GB", "1gib", "1G", "1K", "1KB",
                            "1iB", "16777216TiB", "18446744073709551616", " 1GiB", "1GiB ", "0x10"})
        BOOST_TEST(!parse_size(bad).has_value(), "accepted \"" << bad << "\"");
}

BOOST_AUTO_TEST_CASE(size_options_name_the_option_and_the_range) {
    const std::vector<option_spec> with_size = {{"min-free-disk", "SIZE", "guard", "1GiB", "PGEXPORT_MIN_FREE_DISK"}};
    BOOST_TEST(options(with_size, {}, env({})).get_size("min-free-disk", 0, 1ull << 40) == 1ull << 30);
    BOOST_TEST(options(with_size, {}, env({{"PGEXPORT_MIN_FREE_DISK", "64MiB"}}))
                   .get_size("min-free-disk", 0, 1ull << 40) == 64ull << 20);
    BOOST_TEST(options(with_size, {"--min-free-disk=0"}, env({})).get_size("min-free-disk", 0, 1ull << 40) == 0u);
    for (const char* bad : {"1GB", "2TiB"}) {
        std::string message;
        try {
            options(with_size, {"--min-free-disk", bad}, env({})).get_size("min-free-disk", 0, 1ull << 40);
        } catch (const std::invalid_argument& e) {
            message = e.what();
        }
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(message.find("--min-free-disk") != std::string::npos);
            BOOST_TEST(message.find("512KiB, 64MiB or 1GiB") != std::string::npos);
            BOOST_TEST(message.find(bad) != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(storage_urls) {
    const auto both = parse_s3_url("s3://my-bucket.1/exports/daily/");
    BOOST_TEST_REQUIRE(both.has_value());
    BOOST_TEST(both->bucket == "my-bucket.1");
    BOOST_TEST(both->prefix == "exports/daily");
    const auto bare = parse_s3_url("s3://bucket");
    BOOST_TEST_REQUIRE(bare.has_value());
    BOOST_TEST(bare->prefix == "");
    for (const char* bad : {"", "bucket/x", "s3://", "s3://ab", "s3://Bucket/x", "s3://bu_cket", "s3://bucket//x",
                            "http://bucket/x"}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!parse_s3_url(bad)); }
    }
}

BOOST_AUTO_TEST_CASE(loopback_addresses) {
    for (std::string_view yes : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"})
        BOOST_TEST(pgexport::cli::is_loopback(yes), yes);
    for (std::string_view no : {"0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "fd00::1", "example.org", ""})
        BOOST_TEST(!pgexport::cli::is_loopback(no), no);
}
