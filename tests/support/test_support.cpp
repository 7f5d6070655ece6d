#include "test_support.hpp"

#include "store/pg.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace pgexport::test {

using namespace engine::detail;

temp_dir::temp_dir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    path = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

std::string admin_url() {
    const char* url = std::getenv("PGEXPORT_TEST_DATABASE_URL");
    if (!url || !*url)
        BOOST_FAIL("PGEXPORT_TEST_DATABASE_URL is not set: run the tests through tools/test");
    return url;
}

namespace {

// Replaces the database name (the path after the last '/') of a postgresql:// URL.
std::string with_database(const std::string& url, const std::string& db) {
    auto query = url.find('?');
    std::string base = url.substr(0, query);
    auto slash = base.rfind('/');
    if (slash == std::string::npos || slash < base.find("//") + 2)
        base += "/";
    else
        base.resize(slash + 1);
    return base + db + (query == std::string::npos ? "" : url.substr(query));
}

} // namespace

scratch_database::scratch_database() {
    static std::atomic<int> counter{0};
    name_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    conn_ptr admin = connect_blocking(admin_url(), std::chrono::minutes(1), std::chrono::seconds(10));
    exec(admin.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    exec(admin.get(), "CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
    url_ = with_database(admin_url(), name_);
}

scratch_database::~scratch_database() {
    try {
        conn_ptr admin = connect_blocking(admin_url(), std::chrono::minutes(1), std::chrono::seconds(10));
        exec(admin.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
}

std::vector<std::string> scratch_database::query(const std::string& sql) const {
    conn_ptr c = connect_blocking(url_, std::chrono::minutes(5), std::chrono::seconds(10));
    result_ptr r(PQexec(c.get(), sql.c_str()));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        throw std::runtime_error("query failed: " + std::string(PQresultErrorMessage(r.get())) +
                                 " in: " + sql);
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        rows.push_back(get_text(r.get(), i, 0).value_or(""));
    return rows;
}

std::string scratch_database::copy_csv(const std::string& select) const {
    conn_ptr c = connect_blocking(url_, std::chrono::minutes(5), std::chrono::seconds(10));
    const std::string sql = "COPY (" + select + ") TO STDOUT WITH (FORMAT csv, HEADER true)";
    result_ptr r(PQexec(c.get(), sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_OUT)
        throw std::runtime_error("COPY failed: " + std::string(PQresultErrorMessage(r.get())));
    std::string out;
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(c.get(), &buf, 0);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            PQfreemem(buf);
        } else {
            break;
        }
    }
    while (result_ptr end{PQgetResult(c.get())}) {
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace pgexport::test
