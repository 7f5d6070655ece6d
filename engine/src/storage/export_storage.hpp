#pragma once
// Where finished exports go. The data directory (the default) or S3-compatible object storage
// (--storage s3://); the job runner, the sweeper, deletes and downloads see only this interface. Either
// way a job writes its partial file in the data directory; publishing makes it the finished export. In
// object storage a single-stream job's file is uploaded while it is written (a part_uploader), and the
// bytes in the store leave the local disk (a hole is punched where they were).

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

// Sends a single-stream job's file to the store while the export writes it: a part as soon as a checkpoint
// vouches for its bytes, recorded in the job's checkpoint, then its bytes dropped from the local file.
// Runs beside the attempt on the engine's executor; the attempt closes it before it publishes or leaves.
class part_uploader {
public:
    virtual ~part_uploader() = default;
    // A checkpoint recorded (under the lease) that the file's first `bytes` bytes are durable.
    virtual void vouched(std::int64_t bytes) = 0;
    // Waits while two parts or more that checkpoints vouched for are not in the store yet: the export's
    // backpressure (the local disk holds those, plus what was written since the last checkpoint). Depends
    // on no checkpoint to come, only on the uploader. Rethrows the uploader's failure (the attempt fails
    // with it: unavailable_error makes the job wait). Returns at once when the job is to stop.
    virtual boost::asio::awaitable<void> async_room() = 0;
    // The job is to stop: wakes whoever waits for room. The part in flight runs to its end.
    virtual void interrupt() = 0;
    // Stops after the part in flight and waits for it. Never throws: publishing sends what is left.
    virtual boost::asio::awaitable<void> async_close() = 0;
};

// What an attempt finds in the store before it writes.
struct stored_prefix {
    std::int64_t bytes = 0; // the file's first bytes already in the store: the local file may have a hole there
    bool lost = false;      // the store lost bytes that the local file no longer holds: export from the start
    // The finished export is in the store already (an attempt completed the upload, then stopped before
    // the completion was recorded): what the job records as its file path. The job just completes.
    std::optional<std::string> published{};
};

class export_storage {
public:
    virtual ~export_storage() = default;

    // Before an attempt writes: the job's upload as its checkpoint recorded it, checked with the store
    // (the parts it still has), or a new one, recorded at once. `bytes`: the checkpoint's length, where
    // the attempt goes on (-1 when not known: a parallel job, whose file exists only once assembled).
    // `streaming`: the local file of this job may have holes where recorded parts were. Throws as
    // async_publish.
    virtual boost::asio::awaitable<stored_prefix> async_prepare(running_job& job, std::int64_t bytes,
                                                                bool streaming) = 0;
    // For a single-stream job whose checkpoint is `bytes` long, after async_prepare: uploads `file`
    // while it is written (nullptr: the store takes the file only when it is published).
    virtual std::unique_ptr<part_uploader> start_uploader(running_job& job, std::filesystem::path file,
                                                          std::int64_t bytes) = 0;

    // Makes the whole partial file `part` (`bytes` long) the job's finished export, under the job's lease,
    // after async_prepare; returns what the job records as its file path. The data directory links it to
    // `final`; S3 uploads what the uploader has not, part by part, each part recorded in the job's
    // checkpoint, and completes the upload. Throws unavailable_error while the store is out of reach,
    // stop_job when the job must stop (cancelled, lease lost).
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
