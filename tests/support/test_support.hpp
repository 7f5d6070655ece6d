#pragma once
// Shared by the tests: running a coroutine to completion, throwaway directories and databases.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace pgexport::test {

namespace detail {
// `awaitable`, and io.stop() when it throws: a test that failed halfway leaves an engine's work behind
// (its timers, its listener), which io.run() would otherwise wait for until the test's timeout.
template <class T>
boost::asio::awaitable<T> stopping_on_failure(boost::asio::io_context& io, boost::asio::awaitable<T> awaitable) {
    try {
        co_return co_await std::move(awaitable);
    } catch (...) {
        io.stop();
        throw;
    }
}
} // namespace detail

// Runs `make()`'s awaitable on `io` until it completes (and `io` has no work left); returns its value or
// rethrows its exception at once.
template <class Make> auto run(boost::asio::io_context& io, Make make) {
    auto future = boost::asio::co_spawn(io, detail::stopping_on_failure(io, make()), boost::asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

// A fresh directory under the temporary directory, removed with everything in it at the end.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& prefix = "pgexport-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

// The admin URL handed to the tests by tools/test (PGEXPORT_TEST_DATABASE_URL); fails the test when unset.
std::string admin_url();

// A database of its own for one test: created empty from template0, dropped (with its connections)
// when the object goes away.
class scratch_database {
public:
    scratch_database();
    ~scratch_database();
    scratch_database(const scratch_database&) = delete;
    scratch_database& operator=(const scratch_database&) = delete;

    const std::string& url() const { return url_; }
    const std::string& name() const { return name_; }

    // Runs SQL (one or more statements) and returns the first column of every row as text ("" for NULL).
    std::vector<std::string> query(const std::string& sql) const;

    // Output of COPY (<select>) TO STDOUT WITH (FORMAT csv, HEADER true), in a session with the
    // contract's settings: the reference an export must equal byte for byte.
    std::string copy_csv(const std::string& select) const;

private:
    std::string name_;
    std::string url_;
};

// The whole content of a file.
std::string read_file(const std::string& path);

} // namespace pgexport::test
