// An embedding program, as a user of the installed package writes it: one export with the engine's API,
// its logs through the program's own sink.
//
//   consumer <database-url> <data-dir> '<request JSON>'
//
// Prints the finished file's path, then one line `event <level> <name>` for each event the engine logged.
// Exit status 0 only when the job completed.

#include <pgexport/engine.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>
#include <pgexport/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace pgexport::engine;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: consumer <database-url> <data-dir> '<request JSON>' (pgexport " << pgexport::version()
                  << ")\n";
        return 2;
    }
    std::mutex events_mutex;
    std::vector<std::string> events;
    pgexport::set_log_sink([&](std::string_view level, std::string_view event, const boost::json::object&) {
        std::string line = "event ";
        line += level;
        line += ' ';
        line += event;
        const std::lock_guard lock(events_mutex);
        events.push_back(std::move(line));
    });

    apply_migrations(argv[1]);
    asio::io_context io;
    export_engine engine(io.get_executor(),
                         engine_config{.database_url = argv[1], .data_dir = argv[2], .min_free_disk = 0});
    int exit_code = 1;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await engine.async_start();
            auto request = parse_export_request(boost::json::parse(argv[3]));
            if (!request) {
                std::cerr << "bad request: " << request.error().message << "\n";
                co_await engine.async_shutdown();
                co_return;
            }
            auto id = co_await engine.async_create(*request);
            if (!id) {
                std::cerr << "rejected: " << id.error().message << "\n";
                co_await engine.async_shutdown();
                co_return;
            }
            for (;;) {
                auto status = co_await engine.async_status(*id);
                if (status && status->status == job_status::completed) {
                    std::cout << *status->file_path << "\n";
                    exit_code = 0;
                    break;
                }
                if (status && status->status != job_status::queued && status->status != job_status::running) {
                    std::cerr << "job ended " << to_string(status->status) << ": " << status->error.value_or("")
                              << "\n";
                    break;
                }
                asio::steady_timer t(io, std::chrono::milliseconds(10));
                co_await t.async_wait(asio::use_awaitable);
            }
            co_await engine.async_shutdown();
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    io.run();
    pgexport::set_log_sink({});
    for (const auto& e : events)
        std::cout << e << "\n";
    return exit_code;
}
