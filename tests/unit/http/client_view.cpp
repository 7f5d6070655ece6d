// What a client sees of the server's paths, endpoints and database hosts in a job's fields.
#include "client_view.hpp"

#include <boost/test/unit_test.hpp>

using namespace pgexport::http;

BOOST_AUTO_TEST_CASE(file_paths_are_names_in_the_data_directory) {
    BOOST_TEST(shown_file_path("/var/lib/pgexport/exports/0b6e.csv") == "0b6e.csv");
    BOOST_TEST(shown_file_path("var/exports/0b6e.csv.gz") == "0b6e.csv.gz");
    BOOST_TEST(shown_file_path("s3://exports/team/0b6e") == "s3://exports/team/0b6e");
}

BOOST_AUTO_TEST_CASE(messages_lose_paths_endpoints_and_hosts) {
    const auto view = make_client_view("/var/lib/pgexport/exports", "http://10.0.0.7:9000");
    BOOST_TEST(shown_message("cannot link /var/lib/pgexport/exports/a.2.csv.part to /var/lib/pgexport/exports/a.csv: "
                             "No such file or directory", view) ==
               "cannot link a.2.csv.part to a.csv: No such file or directory");
    BOOST_TEST(shown_message("object storage: cannot reach http://10.0.0.7:9000 (Couldn't connect to server)", view) ==
               "object storage: cannot reach the object storage (Couldn't connect to server)");
    BOOST_TEST(shown_message("replica unreachable: connection to server at \"db-standby.internal\" (10.0.0.6), port "
                             "5433 failed: Connection refused", view) ==
               "replica unreachable: connection to the database server failed: Connection refused");
    BOOST_TEST(shown_message("connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file",
                             view) == "connection to the database server failed: No such file");
    BOOST_TEST(shown_message("the job ran out of attempts", view) == "the job ran out of attempts");
}

BOOST_AUTO_TEST_CASE(a_relative_data_directory_is_hidden_in_both_forms) {
    const auto view = make_client_view("./var/exports", "");
    BOOST_TEST(shown_message("cannot open ./var/exports/a.csv", view) == "cannot open a.csv");
}
