// The JSON of GET /api/schema: columns with their operators, values only where known, the tables, and
// the server's export options.
#include "api_json.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace pgexport;
namespace json = boost::json;

BOOST_AUTO_TEST_CASE(values_are_listed_only_for_columns_that_have_them) {
    engine::table_schema schema{"orders", "order_id", {}};
    schema.columns.push_back({"order_id", "bigint", false, {engine::filter_op::eq, engine::filter_op::gt}});
    schema.columns.push_back({"channel", "text", true, {engine::filter_op::eq}, {"mail", "web"}});
    const json::object s = http::schema_json(schema, {"records", "orders"});

    BOOST_TEST(s.at("table") == "orders");
    BOOST_TEST(s.at("key") == "order_id");
    BOOST_TEST(s.at("tables") == (json::array{"records", "orders"}));
    const json::array& columns = s.at("columns").as_array();
    BOOST_TEST_REQUIRE(columns.size() == 2u);
    BOOST_TEST(columns[0] == (json::object{{"name", "order_id"},
                                           {"type", "bigint"},
                                           {"nullable", false},
                                           {"operators", json::array{"eq", "gt"}}}));
    BOOST_TEST(columns[1].at("values") == (json::array{"mail", "web"}));
    BOOST_TEST(columns[1].at("nullable") == true);
}

BOOST_AUTO_TEST_CASE(options_say_what_a_request_may_ask) {
    const json::object o = http::export_options_json();
    BOOST_TEST(o.size() == 6u);
    BOOST_TEST(o.at("consistency") == (json::array{"chunked", "snapshot"}));
    const json::array& formats = o.at("formats").as_array();
    BOOST_TEST(std::find(formats.begin(), formats.end(), json::value("csv")) != formats.end());
    const json::array& compression = o.at("compression").as_array();
    BOOST_TEST(std::find(compression.begin(), compression.end(), json::value("none")) != compression.end());
    BOOST_TEST(std::find(formats.begin(), formats.end(), json::value("jsonl")) != formats.end());
    BOOST_TEST(std::find(compression.begin(), compression.end(), json::value("gzip")) != compression.end());
    BOOST_TEST(o.at("csvOptions").as_array().size() == 5u);
    BOOST_TEST(std::find(formats.begin(), formats.end(), json::value("parquet")) != formats.end());
    const json::object& parquet = o.at("parquetOptions").as_object();
    BOOST_TEST(parquet.at("compression").as_array().size() == 3u);
    BOOST_TEST(parquet.at("rowGroupRows").at("min").to_number<std::int64_t>() == engine::min_row_group_rows);
    BOOST_TEST(o.at("maxParallelism").to_number<int>() >= 1);
    // /api/schema carries them as they are, with the server's --max-parallelism.
    const json::object s = http::schema_json(engine::table_schema{"t", "id", {}}, {"t"});
    BOOST_TEST(s.at("options") == o);
    const json::object four = http::schema_json(engine::table_schema{"t", "id", {}}, {"t"}, 4);
    BOOST_TEST(four.at("options").at("maxParallelism").to_number<int>() == 4);
}
