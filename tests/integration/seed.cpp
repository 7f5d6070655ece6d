// The seeder against a real database: the contract's table, the row count, CSV-hostile content.

#include "seed.hpp"
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::cli;
using pgexport::test::scratch_database;

BOOST_AUTO_TEST_SUITE(seed)

BOOST_AUTO_TEST_CASE(creates_the_table_and_appends) {
    scratch_database db;
    BOOST_TEST(seed_records({db.url(), 5000}) == 5000);
    BOOST_TEST(db.query("SELECT count(*) FROM records")[0] == "5000");
    BOOST_TEST(seed_records({db.url(), 1234}) == 1234);
    BOOST_TEST(db.query("SELECT count(*) FROM records")[0] == "6234");
    BOOST_TEST(db.query("SELECT count(DISTINCT id) FROM records")[0] == "6234");

    auto columns = db.query("SELECT column_name || ' ' || data_type FROM information_schema.columns"
                            " WHERE table_name = 'records' ORDER BY ordinal_position");
    const std::vector<std::string> expected = {
        "id bigint",   "category text",   "created_at timestamp with time zone",
        "name text",   "email text",      "amount numeric",
        "status text", "description text"};
    BOOST_TEST(columns == expected, boost::test_tools::per_element());
    auto indexes = db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'records' ORDER BY 1");
    BOOST_TEST(indexes.size() >= 4u);
}

BOOST_AUTO_TEST_CASE(content_is_hostile_to_csv) {
    scratch_database db;
    seed_records({db.url(), 3000});
    auto count = [&](const std::string& where) {
        return std::stoll(db.query("SELECT count(*) FROM records WHERE " + where)[0]);
    };
    BOOST_TEST(count("description IS NULL") > 0);
    BOOST_TEST(count("description = ''") > 0);
    BOOST_TEST(count("description LIKE '%,%'") > 0);
    BOOST_TEST(count("description LIKE '%\"%'") > 0);
    BOOST_TEST(count("description LIKE '%' || chr(10) || '%'") > 0);
    BOOST_TEST(count("description LIKE '%' || chr(13) || '%'") > 0);
    BOOST_TEST(count("description ~ '[^\\x01-\\x7f]'") > 0);
    BOOST_TEST(count("name ~ '[^\\x01-\\x7f]'") > 0);
    BOOST_TEST(count("amount < 0") > 0);
    BOOST_TEST(std::stoll(db.query("SELECT count(DISTINCT category) FROM records")[0]) >= 5);
    BOOST_TEST(std::stoll(db.query("SELECT count(DISTINCT status) FROM records")[0]) >= 4);
    BOOST_TEST(std::stoll(db.query("SELECT count(DISTINCT created_at::date) FROM records")[0]) > 300);
}

BOOST_AUTO_TEST_CASE(deterministic_across_databases) {
    scratch_database a;
    scratch_database b;
    seed_records({a.url(), 500});
    seed_records({b.url(), 500});
    const std::string all = "SELECT * FROM records ORDER BY id";
    BOOST_TEST(a.copy_csv(all) == b.copy_csv(all));
}

BOOST_AUTO_TEST_SUITE_END()
