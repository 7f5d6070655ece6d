// Parsing and validating request bodies. No database.

#include "format/request_fields.hpp"

#include <pgexport/request.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

using namespace pgexport::engine;

namespace {

result<export_request> parse(std::string_view json) {
    return parse_export_request(boost::json::parse(json));
}

} // namespace

BOOST_AUTO_TEST_SUITE(request)

BOOST_AUTO_TEST_CASE(reads_the_contract_example) {
    auto r = parse(R"({ "filters": { "category": "books", "status": ["paid", "shipped"],
        "created_at": { "gte": "2024-01-01T00:00:00Z", "lt": "2024-02-01T00:00:00Z" },
        "amount": { "gt": 10 } }, "columns": ["id", "category", "created_at", "amount"] })");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->columns == (std::vector<std::string>{"id", "category", "created_at", "amount"}));
    BOOST_REQUIRE(r->filters.size() == 5u);
    BOOST_TEST(r->filters[0].column == "category");
    BOOST_TEST((r->filters[0].op == filter_op::eq));
    BOOST_TEST((r->filters[1].op == filter_op::in));
    BOOST_TEST(r->filters[1].values.size() == 2u);
    BOOST_TEST((r->filters[2].op == filter_op::gte));
    BOOST_TEST((r->filters[3].op == filter_op::lt));
    BOOST_TEST(*r->filters[4].values[0] == "10");
}

BOOST_AUTO_TEST_CASE(scalars_become_text) {
    auto r = parse(R"({"filters": {"a": true, "b": 1.25, "c": -7, "d": 18446744073709551615, "e": null}})");
    BOOST_REQUIRE(r);
    BOOST_TEST(*r->filters[0].values[0] == "true");
    BOOST_TEST(*r->filters[1].values[0] == "1.25");
    BOOST_TEST(*r->filters[2].values[0] == "-7");
    BOOST_TEST(*r->filters[3].values[0] == "18446744073709551615");
    BOOST_TEST(!r->filters[4].values[0]);
}

BOOST_AUTO_TEST_CASE(rejects_bad_shapes_with_a_reason) {
    struct item {
        const char* json;
        errc code;
        const char* mentions;
    };
    const item cases[] = {
        {R"([])", errc::invalid_request, "object"},
        {R"("x")", errc::invalid_request, "object"},
        {R"({"filter": {}})", errc::invalid_request, "filter"},
        {R"({"filters": []})", errc::invalid_request, "filters"},
        {R"({"filters": {"a": {}}})", errc::invalid_request, "no operator"},
        {R"({"filters": {"a": {"like": "x"}}})", errc::unknown_operator, "like"},
        {R"({"filters": {"a": {"in": "x"}}})", errc::invalid_request, "array"},
        {R"({"filters": {"a": []}})", errc::invalid_request, "at least one"},
        {R"({"filters": {"a": [null]}})", errc::invalid_request, "null"},
        {R"({"filters": {"a": {"gt": null}}})", errc::invalid_request, "null"},
        {R"({"filters": {"a": {"eq": {"x": 1}}}})", errc::invalid_request, "string, number"},
        {R"({"filters": {"a": [[1]]}})", errc::invalid_request, "string, number"},
        {R"({"filters": {"a": "nul\u0000"}})", errc::invalid_request, "NUL"},
        {R"({"columns": "id"})", errc::invalid_request, "array"},
        {R"({"columns": []})", errc::invalid_request, "at least one"},
        {R"({"columns": [1]})", errc::invalid_request, "strings"},
        {R"({"columns": ["a\u0000"]})", errc::invalid_request, "NUL"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("body " << c.json) {
            auto r = parse(c.json);
            BOOST_REQUIRE(!r);
            BOOST_TEST(to_string(r.error().code) == to_string(c.code));
            BOOST_TEST(r.error().message.find(c.mentions) != std::string::npos, r.error().message);
        }
    }
}

namespace {

// {"filters": {"<column>": [0, 1, ..., n - 1]}} (or {"in": [...]}), written out as text.
std::string in_list(std::size_t n, const std::string& column = "a", bool as_operator = false) {
    std::string json = "[";
    for (std::size_t i = 0; i < n; ++i) {
        if (i)
            json += ',';
        json += std::to_string(i);
    }
    json += ']';
    std::string out = "\"";
    out += column;
    out += "\": ";
    if (as_operator) {
        out += "{\"in\": ";
        out += json;
        out += '}';
    } else {
        out += json;
    }
    return out;
}

std::string column_list(std::size_t n) {
    std::string json = "[";
    for (std::size_t i = 0; i < n; ++i) {
        json += i ? ",\"c" : "\"c";
        json += std::to_string(i);
        json += '"';
    }
    json += ']';
    return json;
}

} // namespace

BOOST_AUTO_TEST_CASE(caps_on_values_and_columns) {
    const request_limits limits; // the defaults: 100,000 in a list, 200,000 in all, 1,000 columns
    auto parse_with = [](const std::string& json, const request_limits& l) {
        return parse_export_request(boost::json::parse(json), l);
    };
    // At each cap: accepted.
    BOOST_TEST(parse_with("{\"filters\": {" + in_list(100'000) + "}}", limits).has_value());
    BOOST_TEST(parse_with("{\"filters\": {" + in_list(100'000, "a") + ", " + in_list(100'000, "b", true) + "}}",
                          limits)
                   .has_value());
    BOOST_TEST(parse_with("{\"columns\": " + column_list(1'000) + "}", limits).has_value());
    // One past each: invalid_request, naming the cap and what to do.
    struct item {
        std::string json;
        const char* mentions;
    };
    const item over[] = {
        {"{\"filters\": {" + in_list(100'001) + "}}", "at most 100,000"},
        {"{\"filters\": {" + in_list(100'001, "a", true) + "}}", "has 100,001 values"},
        {"{\"filters\": {" + in_list(100'000, "a") + ", " + in_list(100'000, "b") + ", \"c\": 1}}",
         "more than 200,000 values in all"},
        {"{\"columns\": " + column_list(1'001) + "}", "at most 1,000"},
    };
    for (const auto& o : over)
        BOOST_TEST_CONTEXT(o.json.substr(0, 60)) {
            auto r = parse_with(o.json, limits);
            BOOST_REQUIRE(!r);
            BOOST_TEST(to_string(r.error().code) == "invalid_request");
            BOOST_TEST(r.error().message.find(o.mentions) != std::string::npos, r.error().message);
        }
    // The caps are the caller's: smaller ones bite sooner.
    const request_limits small{3, 4, 2};
    BOOST_TEST(parse_with(R"({"filters": {"a": [1, 2, 3]}, "columns": ["a", "b"]})", small).has_value());
    BOOST_TEST(!parse_with(R"({"filters": {"a": [1, 2, 3, 4]}})", small).has_value());
    BOOST_TEST(!parse_with(R"({"filters": {"a": [1, 2, 3], "b": {"gt": 1, "lt": 5}}})", small).has_value());
    BOOST_TEST(!parse_with(R"({"columns": ["a", "b", "c"]})", small).has_value());
}

BOOST_AUTO_TEST_CASE(round_trips_through_json) {
    for (std::string_view json : {R"({})", R"({"filters": {"a": {"gte": "1", "lt": "5"}, "b": ["x", "y"]}})",
                                  R"({"filters": {"a": null, "b": {"ne": null}}, "columns": ["b", "a"]})",
                                  R"({"format": "jsonl", "compression": "gzip"})", R"({"parallelism": 16})",
                                  R"({"format": "parquet"})", R"({"format": "parquet", "parquet": {"rowGroupRows": 1000}})",
                                  R"({"format": "parquet", "parquet": {"compression": "none"}, "parallelism": 3})",
                                  R"({"csv": {"delimiter": "\t", "header": false, "null": "\\N", "forceQuote": true,
                                      "bom": true}, "compression": "none"})"}) {
        BOOST_TEST_CONTEXT("body " << json) {
            auto first = parse(json).value();
            auto again = parse_export_request(to_json(first)).value();
            BOOST_TEST((first == again));
        }
    }
}

BOOST_AUTO_TEST_CASE(reads_formats_and_csv_options) {
    auto d = parse("{}").value();
    BOOST_TEST((d.format == output_format::csv));
    BOOST_TEST((d.compression == output_compression::none));
    BOOST_TEST((d.csv == csv_options{}));
    BOOST_TEST(d.csv.delimiter == ',');
    BOOST_TEST(d.csv.header);
    // Defaults are not written back, so that requests stored before formats existed read the same.
    BOOST_TEST(boost::json::serialize(to_json(d)) == R"({"filters":{}})");

    auto r = parse(R"({"format": "csv", "csv": {"delimiter": ";", "header": false, "null": "NULL",
                       "forceQuote": true, "bom": true}, "compression": "gzip"})").value();
    BOOST_TEST(r.csv.delimiter == ';');
    BOOST_TEST(!r.csv.header);
    BOOST_TEST(r.csv.null == "NULL");
    BOOST_TEST(r.csv.force_quote);
    BOOST_TEST(r.csv.bom);
    BOOST_TEST((r.compression == output_compression::gzip));
    BOOST_TEST((parse(R"({"format": "jsonl"})").value().format == output_format::jsonl));
    BOOST_TEST(parse(R"({"csv": {"delimiter": " "}})").value().csv.delimiter == ' ');
    BOOST_TEST(parse(R"({"csv": {"null": "\\N"}})").value().csv.null == "\\N");
    BOOST_TEST(parse(R"({"format": null, "csv": null, "compression": null})").has_value());
}

BOOST_AUTO_TEST_CASE(reads_parallelism) {
    BOOST_TEST(parse("{}").value().parallelism == 1);
    BOOST_TEST(parse(R"({"parallelism": null})").value().parallelism == 1);
    BOOST_TEST(parse(R"({"parallelism": 1})").value().parallelism == 1);
    BOOST_TEST(parse(R"({"parallelism": 16})").value().parallelism == 16);
    // Written back only when not 1: requests stored before it existed read the same.
    BOOST_TEST(boost::json::serialize(to_json(parse(R"({"parallelism": 1})").value())) == R"({"filters":{}})");
    for (std::string_view bad : {R"({"parallelism": 0})", R"({"parallelism": 17})", R"({"parallelism": -2})",
                                 R"({"parallelism": 2.5})", R"({"parallelism": "2"})", R"({"parallelism": true})"}) {
        BOOST_TEST_CONTEXT("body " << bad) {
            auto r = parse(bad);
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().message.find("\"parallelism\" must be a whole number from 1 to 16") !=
                       std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(reads_notify) {
    BOOST_TEST(!parse("{}").value().notify);
    BOOST_TEST(!parse(R"({"notify": null})").value().notify);
    // Events: every one when left out; those asked, each once, in the one order, otherwise.
    const auto all = parse(R"({"notify": {"url": "https://hooks.example.com/x"}})").value();
    BOOST_REQUIRE(all.notify);
    BOOST_TEST(all.notify->url == "https://hooks.example.com/x");
    BOOST_TEST(all.notify->events == (std::vector<std::string>{"completed", "failed", "cancelled", "expired"}));
    const auto some =
        parse(R"({"notify": {"events": ["expired", "completed", "expired"], "url": "http://h:8080/"}})").value();
    BOOST_TEST(some.notify->events == (std::vector<std::string>{"completed", "expired"}));
    BOOST_TEST(boost::json::serialize(to_json(some)) ==
               R"({"filters":{},"notify":{"url":"http://h:8080/","events":["completed","expired"]}})");
    BOOST_TEST((parse_export_request(to_json(some)).value() == some));
    const std::pair<const char*, const char*> bad[] = {
        {R"({"notify": "https://h/"})", "must be an object"},
        {R"({"notify": {}})", "needs a \"url\""},
        {R"({"notify": {"url": 7}})", "must be a string"},
        {R"({"notify": {"url": "ftp://h/"}})", "http:// or https://"},
        {R"({"notify": {"url": "https://u:p@h/"}})", "credentials"},
        {R"({"notify": {"url": "https://h/", "events": []}})", "non-empty array"},
        {R"({"notify": {"url": "https://h/", "events": ["running"]}})", "may hold only"},
        {R"({"notify": {"url": "https://h/", "events": [1]}})", "may hold only"},
        {R"({"notify": {"url": "https://h/", "secret": "x"}})", "unknown field \"secret\""},
    };
    for (const auto& [body, why] : bad) {
        BOOST_TEST_CONTEXT(body) {
            const auto r = parse(body);
            BOOST_REQUIRE(!r);
            BOOST_TEST(r.error().code == errc::invalid_request);
            BOOST_TEST(r.error().message.find(why) != std::string::npos, r.error().message);
        }
    }
}

BOOST_AUTO_TEST_CASE(reads_since) {
    BOOST_TEST(!parse("{}").value().since);
    BOOST_TEST(!parse(R"({"since": null})").value().since);
    // The id as a UUID in lower case; every field the body leaves out (or gives as null) is inherited.
    const auto r =
        parse(R"({"since": "0B3A6C1E-58F4-4D8B-9E5E-2F1C0D7A9B11", "columns": ["id"], "format": null})");
    BOOST_REQUIRE(r);
    BOOST_REQUIRE(r->since);
    BOOST_TEST(r->since->job == "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11");
    const inherited_fields all_but_columns{true, true, false, true, true, true, true, true};
    BOOST_TEST((r->since->inherit == all_but_columns));
    const auto given = parse(R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11", "table": "t", "filters": {},
        "format": "csv", "csv": {}, "compression": "none"})")
                           .value();
    BOOST_TEST((given.since->inherit == inherited_fields{false, false, true, false, false, false, true, true}));
    // Stored as the id alone, and read back as the same request.
    BOOST_TEST(boost::json::serialize(to_json(*r)) ==
               R"({"filters":{},"columns":["id"],"since":"0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11"})");
    BOOST_TEST((parse_export_request(to_json(*r)).value() == *r));
    for (const char* body : {R"({"since": "nope"})", R"({"since": 7})", R"({"since": {}})",
                             R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b1"})",
                             R"({"since": "0b3a6c1e+58f4-4d8b-9e5e-2f1c0d7a9b11"})"}) {
        BOOST_TEST_CONTEXT(body) {
            const auto bad = parse(body);
            BOOST_REQUIRE(!bad);
            BOOST_TEST(bad.error().code == errc::invalid_request);
            BOOST_TEST(bad.error().message.find("\"since\" must be the id of an earlier export job") !=
                       std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(since_takes_what_the_body_leaves_out) {
    const auto earlier =
        parse(R"({"table": "orders", "filters": {"status": "paid"}, "columns": ["id", "total"],
        "format": "csv", "csv": {"delimiter": ";", "bom": true}, "compression": "gzip", "parallelism": 4,
        "consistency": "snapshot", "notify": {"url": "https://h/"}})")
            .value();
    struct item {
        const char* body;
        const char* merged; // to_json of the merged request
    };
    const std::string id = R"("since":"0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11")";
    const item cases[] = {
        // Everything that selects and formats the rows; never parallelism or notify.
        {R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11"})",
         R"({"filters":{"status":{"eq":"paid"}},"columns":["id","total"],"table":"orders","csv":{"delimiter":";","header":true,"null":"","forceQuote":false,"bom":true},"compression":"gzip","consistency":"snapshot",)"},
        // Given fields win; filters given replace the earlier ones (they are not ANDed).
        {R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11", "filters": {"total": {"gt": 5}}, "compression": "none",
             "parallelism": 2, "consistency": "chunked"})",
         R"({"filters":{"total":{"gt":"5"}},"columns":["id","total"],"table":"orders","csv":{"delimiter":";","header":true,"null":"","forceQuote":false,"bom":true},"parallelism":2,)"},
        // Another format: the earlier csv options do not apply to it; gzip still does (jsonl), not to
        // parquet.
        {R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11", "format": "jsonl"})",
         R"({"filters":{"status":{"eq":"paid"}},"columns":["id","total"],"table":"orders","format":"jsonl","compression":"gzip","consistency":"snapshot",)"},
        {R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11", "format": "parquet", "columns": ["id"]})",
         R"({"filters":{"status":{"eq":"paid"}},"columns":["id"],"table":"orders","format":"parquet","consistency":"snapshot",)"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            const export_request merged = inherit_request(parse(c.body).value(), earlier);
            BOOST_TEST(boost::json::serialize(to_json(merged)) == std::string(c.merged) + id + "}");
            BOOST_TEST((merged.since->inherit == inherited_fields{}), "nothing is left to fill in");
            // What is stored reads back whole: the merged request is valid on its own.
            BOOST_TEST((parse_export_request(to_json(merged)).value() == merged));
        }
    }
    // A csv job since a jsonl one: its own csv options, the default ones when it gives none.
    const auto jsonl = parse(R"({"format": "jsonl"})").value();
    const auto csv = inherit_request(
        parse(R"({"since": "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11", "format": "csv"})").value(), jsonl);
    BOOST_TEST((csv.format == output_format::csv && csv.csv == csv_options{}));
    // Without "since" nothing changes.
    BOOST_TEST((inherit_request(jsonl, earlier) == jsonl));
}

BOOST_AUTO_TEST_CASE(since_needs_a_completed_job_of_the_same_table) {
    job_info earlier;
    earlier.id = "0b3a6c1e-58f4-4d8b-9e5e-2f1c0d7a9b11";
    for (const auto status : {job_status::completed, job_status::expired}) {
        earlier.status = status;
        BOOST_TEST(!detail::check_since_job(earlier, "orders", std::nullopt));
        BOOST_TEST(!detail::check_since_job(earlier, "orders", std::string("orders")));
        const auto other = detail::check_since_job(earlier, "orders", std::string("customers"));
        BOOST_REQUIRE(other);
        BOOST_TEST(other->code == errc::invalid_request);
        BOOST_TEST(other->message.find("exported the table \"orders\", not \"customers\"") !=
                       std::string::npos,
                   other->message);
    }
    for (const auto status :
         {job_status::queued, job_status::running, job_status::failed, job_status::cancelled}) {
        BOOST_TEST_CONTEXT(to_string(status)) {
            earlier.status = status;
            const auto p = detail::check_since_job(earlier, "orders", std::nullopt);
            BOOST_REQUIRE(p);
            BOOST_TEST(p->code == errc::invalid_request);
            BOOST_TEST(p->message.find(" is " + std::string(to_string(status)) + "; only a completed") !=
                           std::string::npos,
                       p->message);
        }
    }
}

BOOST_AUTO_TEST_CASE(refuses_what_copy_refuses) {
    struct item {
        const char* body;
        const char* says;
    };
    const item cases[] = {
        {R"({"format": "xml"})", "\"format\" must be \"csv\", \"jsonl\" or \"parquet\""},
        {R"({"format": 1})", "\"format\" must be"},
        {R"({"compression": "zstd"})", "\"compression\" must be \"none\" or \"gzip\""},
        {R"({"csv": ","})", "\"csv\" must be an object"},
        {R"({"csv": {"delimiter": ";;"}})", "single one-byte"},
        {R"({"csv": {"delimiter": ""}})", "single one-byte"},
        {R"({"csv": {"delimiter": "\u00e9"}})", "single one-byte"},
        {R"({"csv": {"delimiter": 1}})", "must be a string"},
        {R"({"csv": {"delimiter": "\""}})", "quote character"},
        {R"({"csv": {"delimiter": "\n"}})", "newline or carriage return"},
        {R"({"csv": {"delimiter": "\r"}})", "newline or carriage return"},
        {R"({"csv": {"delimiter": "\u0000"}})", "NUL"},
        {R"({"csv": {"delimiter": "7"}})", "digit"},
        {R"({"csv": {"delimiter": "-"}})", "digit"},
        {R"({"csv": {"header": "yes"}})", "\"header\" must be true or false"},
        {R"({"csv": {"forceQuote": 1}})", "\"forceQuote\" must be true or false"},
        {R"({"csv": {"bom": null}})", "\"bom\" must be true or false"},
        {R"({"csv": {"null": 0}})", "\"null\" must be a string"},
        {R"({"csv": {"null": "a,b"}})", "cannot contain the delimiter"},
        {R"({"csv": {"delimiter": ";", "null": "a;b"}})", "cannot contain the delimiter \";\""},
        {R"({"csv": {"null": "\"N\""}})", "quote character"},
        {R"({"csv": {"null": "a\nb"}})", "newline"},
        {R"({"csv": {"null": "\r"}})", "newline"},
        {R"({"csv": {"null": "\\."}})", "end-of-data marker"},
        {R"({"csv": {"null": "a\u0000"}})", "NUL"},
        {R"({"csv": {"quote": "'"}})", "unknown field \"quote\" in \"csv\""},
        {R"({"format": "jsonl", "csv": {}})", "only to \"format\": \"csv\""},
        {R"({"csv": {}, "format": "jsonl"})", "only to \"format\": \"csv\""},
        {R"({"csv": {}, "format": "parquet"})", "only to \"format\": \"csv\""},
        {R"({"parquet": {}})", "only to \"format\": \"parquet\""},
        {R"({"format": "parquet", "compression": "gzip"})", "does not apply to \"format\": \"parquet\""},
        {R"({"format": "parquet", "parquet": []})", "\"parquet\" must be an object"},
        {R"({"format": "parquet", "parquet": {"compression": "gzip"}})", "\"compression\" must be \"zstd\""},
        {R"({"format": "parquet", "parquet": {"rowGroupRows": 999}})", "from 1000 to 10000000"},
        {R"({"format": "parquet", "parquet": {"rowGroupRows": 10000001}})", "from 1000 to 10000000"},
        {R"({"format": "parquet", "parquet": {"rowGroupRows": "5000"}})", "\"rowGroupRows\" must be"},
        {R"({"format": "parquet", "parquet": {"pageRows": 1}})", "unknown field \"pageRows\" in \"parquet\""},
        {R"({"formats": "csv"})", "unknown field \"formats\""},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("body " << c.body) {
            auto r = parse(c.body);
            BOOST_REQUIRE(!r);
            BOOST_TEST((r.error().code == errc::invalid_request));
            BOOST_TEST(r.error().message.find(c.says) != std::string::npos, r.error().message);
        }
    }
}

BOOST_AUTO_TEST_CASE(names_and_types_the_download) {
    struct item {
        const char* body;
        const char* name;
        const char* type;
    };
    const item cases[] = {
        {"{}", "export-j.csv", "text/csv; charset=utf-8"},
        {R"({"csv": {"delimiter": ";"}})", "export-j.csv", "text/csv; charset=utf-8"},
        {R"({"format": "jsonl"})", "export-j.jsonl", "application/x-ndjson"},
        {R"({"compression": "gzip"})", "export-j.csv.gz", "application/gzip"},
        {R"({"format": "jsonl", "compression": "gzip"})", "export-j.jsonl.gz", "application/gzip"},
        {R"({"format": "parquet"})", "export-j.parquet", "application/vnd.apache.parquet"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("body " << c.body) {
            const auto r = parse(c.body).value();
            BOOST_TEST(download_file_name("j", r) == c.name);
            BOOST_TEST(download_content_type(r) == c.type);
        }
    }
}

BOOST_AUTO_TEST_CASE(utf8_validation) {
    BOOST_TEST(is_valid_utf8(""));
    BOOST_TEST(is_valid_utf8("plain"));
    BOOST_TEST(is_valid_utf8("café 日本語 🚀"));
    BOOST_TEST(!is_valid_utf8("\xc3"));             // truncated
    BOOST_TEST(!is_valid_utf8("\xc0\xaf"));         // overlong '/'
    BOOST_TEST(!is_valid_utf8("\xed\xa0\x80"));     // surrogate
    BOOST_TEST(!is_valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
    BOOST_TEST(!is_valid_utf8("\xff"));
    BOOST_TEST(!is_valid_utf8("a\x80"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(utf8_repair)

BOOST_AUTO_TEST_CASE(replaces_only_the_bad_bytes) {
    BOOST_TEST(to_valid_utf8("plain café") == "plain café");
    BOOST_TEST(to_valid_utf8("a\x91z") == "a\xEF\xBF\xBDz");
    BOOST_TEST(to_valid_utf8("\xee\xba") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    BOOST_TEST(is_valid_utf8(to_valid_utf8("\xff\xfe\xc0\xaf ok \xed\xa0\x80")));
}

BOOST_AUTO_TEST_SUITE_END()
