// Embedding the engine: export a filtered table to CSV from your own program, without HTTP.
//
//   embed_example <database-url> <data-dir> '<request JSON>'
//
// It starts the engine on an io_context, creates one job, follows it with a job_watch (woken at each
// checkpoint and change of state; the status is read at each wake-up, and at least every second for a job
// another instance may run) until it ends in any final state, and prints where the file is. Exit 0 when
// the job completed, 1 otherwise.

#include <pgexport/engine.hpp>
#include <pgexport/migrations.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <iostream>

namespace asio = boost::asio;
using namespace pgexport::engine;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: embed_example <database-url> <data-dir> '<request JSON>'\n";
        return 2;
    }
    apply_migrations(argv[1]); // the engine keeps its jobs in export_jobs
    asio::io_context io;
    export_engine engine(io.get_executor(), engine_config{.database_url = argv[1], .data_dir = argv[2]});
    int exit_code = 1;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await engine.async_start();
            auto request = parse_export_request(boost::json::parse(argv[3]));
            if (!request) {
                std::cerr << "bad request: " << request.error().message << "\n";
                co_await engine.async_shutdown(); // its timers would keep io.run() going
                co_return;
            }
            auto id = co_await engine.async_create(*request);
            if (!id) {
                std::cerr << "rejected: " << id.error().message << "\n";
                co_await engine.async_shutdown();
                co_return;
            }
            job_watch watch = engine.watch(*id);
            for (;;) {
                auto status = co_await engine.async_status(*id);
                if (!status) {
                    // unavailable: the database is away for now; a watch wakes us when it can
                    if (status.error().code != errc::unavailable) {
                        std::cerr << "status: " << status.error().message << "\n";
                        break;
                    }
                } else if (status->status == job_status::completed) {
                    std::cout << *status->file_path << "\n";
                    exit_code = 0;
                    break;
                } else if (status->status != job_status::queued && status->status != job_status::running) {
                    std::cerr << "job " << *id << " ended " << to_string(status->status) << ": "
                              << status->error.value_or("") << "\n";
                    break;
                }
                if (co_await watch.async_wait(std::chrono::seconds(1)) == watch_outcome::stopping)
                    break;
            }
            co_await engine.async_shutdown();
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    io.run();
    return exit_code;
}
