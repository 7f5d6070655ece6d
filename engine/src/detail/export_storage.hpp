#pragma once
// Where finished exports go. The data directory (the default) or S3-compatible object storage
// (--storage s3://); the job runner, the sweeper, deletes and downloads see only this interface. Either
// way a job writes its partial file in the data directory; publishing makes it the finished export.

#include <pgexport/engine.hpp>
#include <pgexport/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

struct engine_state;
struct running_job;

class export_storage {
public:
    virtual ~export_storage() = default;

    // Makes the whole partial file `part` (`bytes` long) the job's finished export, under the job's lease;
    // returns what the job records as its file path. The data directory links it to `final`; S3 uploads it
    // part by part, each part recorded in the job's checkpoint, and the next attempt (here or on another
    // instance) goes on after the recorded parts. Throws unavailable_error while the store is out of
    // reach, stop_job when the job must stop (cancelled, lease lost).
    virtual boost::asio::awaitable<std::string> async_publish(running_job& job, const std::filesystem::path& part,
                                                              const std::filesystem::path& final,
                                                              std::int64_t bytes) = 0;
    // Throws away what a job that ends unfinished (cancelled, failed) left in the store. Never throws.
    virtual boost::asio::awaitable<void> async_discard(running_job& job) = 0;
    // Removes the finished exports of `ids` from the store (the data directory's files are the sweeper's
    // and the delete's as before); how many were removed. Throws when the store cannot be reached.
    virtual boost::asio::awaitable<std::int64_t> async_remove(std::vector<std::string> ids) = 0;
    // A presigned URL for a completed job whose file is in the store, else nullopt.
    virtual std::optional<std::string> redirect_for(const job_info& job, std::chrono::seconds ttl) const = 0;
    // nullopt when the store answers, else why not.
    virtual boost::asio::awaitable<std::optional<std::string>> async_problem() = 0;
};

// The data directory: publishing is durable_publish (a link, never replacing a finished file).
std::unique_ptr<export_storage> make_directory_storage(engine_state& state);
// S3 (state.config.s3): multipart upload, presigned downloads. Its requests run on threads of its own.
std::unique_ptr<export_storage> make_s3_storage(engine_state& state);

} // namespace pgexport::engine::detail
