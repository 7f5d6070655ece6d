// An embedding program, as a user of the installed package writes it: one export with the engine's API,
// its logs through the program's own sink.
//
//   consumer <database-url> <data-dir> '<request JSON>'
//
// Prints the finished file's path, then one line `event <level> <name>` for each event the engine logged.
// Exit status 0 only when the job completed.

#include <pgexport/engine.hpp>
#include <pgexport/job_watch.hpp>
#include <pgexport/log.hpp>
#include <pgexport/migrations.hpp>
#include <pgexport/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
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
    // Ends with the job's end; followed through a job_watch (woken at each checkpoint), not by polling.
    auto follow = [&]() -> asio::awaitable<void> {
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
        job_watch watch = engine.watch(*id);
        for (;;) {
            auto info = co_await engine.async_status(*id);
            if (!info) {
                std::cerr << "status: " << info.error().message << "\n";
                co_return;
            }
            if (info->status == job_status::completed) {
                std::cout << *info->file_path << "\n";
                exit_code = 0;
                co_return;
            }
            if (info->status != job_status::queued && info->status != job_status::running) {
                std::cerr << "job ended " << to_string(info->status) << ": " << info->error.value_or("") << "\n";
                co_return;
            }
            co_await watch.async_wait(std::chrono::seconds(1));
        }
    };
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await follow();
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
