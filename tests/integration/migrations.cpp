// The migration runner against a real database: idempotent, and safe with two runners at once.

#include "test_support.hpp"

#include <pgexport/migrations.hpp>

#include <boost/test/unit_test.hpp>

#include <future>

using namespace pgexport::engine;
using pgexport::test::scratch_database;

BOOST_AUTO_TEST_SUITE(migrations)

BOOST_AUTO_TEST_CASE(embedded_in_ascending_order) {
    auto all = embedded_migrations();
    BOOST_REQUIRE(!all.empty());
    BOOST_TEST(all[0].version == 1);
    for (std::size_t i = 1; i < all.size(); ++i)
        BOOST_TEST(all[i].version > all[i - 1].version);
    BOOST_TEST(all[0].sql.find("CREATE TABLE export_jobs") != std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(applies_once_then_nothing) {
    scratch_database db;
    const int count = static_cast<int>(embedded_migrations().size());
    BOOST_TEST(apply_migrations(db.url()) == count);
    BOOST_TEST(apply_migrations(db.url()) == 0);
    BOOST_TEST(db.query("SELECT count(*) FROM schema_migrations")[0] == std::to_string(count));
    // The job table has what the engine needs.
    auto columns =
        db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'export_jobs'"
                 " ORDER BY column_name");
    for (const char* c : {"id", "status", "request", "last_processed_id", "rows_exported", "bytes_written",
                          "file_path", "error", "attempts", "created_at", "started_at", "finished_at",
                          "updated_at", "lease_owner", "lease_expires_at"})
        BOOST_TEST((std::find(columns.begin(), columns.end(), c) != columns.end()), "column " << c);
}

BOOST_AUTO_TEST_CASE(concurrent_runners_apply_each_migration_once) {
    scratch_database db;
    const int count = static_cast<int>(embedded_migrations().size());
    for (int round = 0; round < 3; ++round) {
        scratch_database fresh;
        auto a = std::async(std::launch::async, [&] { return apply_migrations(fresh.url()); });
        auto b = std::async(std::launch::async, [&] { return apply_migrations(fresh.url()); });
        const int applied_a = a.get();
        const int applied_b = b.get();
        BOOST_TEST(applied_a + applied_b == count);
        BOOST_TEST(fresh.query("SELECT count(*) FROM schema_migrations")[0] == std::to_string(count));
    }
}

BOOST_AUTO_TEST_CASE(failure_names_the_database_problem) {
    BOOST_CHECK_EXCEPTION(apply_migrations("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"),
                          std::runtime_error, [](const std::runtime_error& e) {
                              return std::string(e.what()).find("cannot apply migrations") !=
                                     std::string::npos;
                          });
}

BOOST_AUTO_TEST_SUITE_END()
