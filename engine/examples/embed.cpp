// Embedding the engine: export a filtered table to CSV from your own program, without HTTP.
//
//   embed_example <database-url> <data-dir> '<request JSON>'
//
// It starts the engine on an io_context, creates one job, polls its status until it ends and prints
// where the file is.

#include <pgexport/engine.hpp>
#include <pgexport/migrations.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
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
                co_return;
            }
            auto id = co_await engine.async_create(*request);
            if (!id) {
                std::cerr << "rejected: " << id.error().message << "\n";
                co_return;
            }
            for (;;) {
                auto status = co_await engine.async_status(*id);
                if (status &&
                    (status->status == job_status::completed || status->status == job_status::failed)) {
                    if (status->status == job_status::completed) {
                        std::cout << *status->file_path << "\n";
                        exit_code = 0;
                    } else {
                        std::cerr << "failed: " << status->error.value_or("") << "\n";
                    }
                    break;
                }
                asio::steady_timer t(io, std::chrono::milliseconds(5));
                co_await t.async_wait(asio::use_awaitable);
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
