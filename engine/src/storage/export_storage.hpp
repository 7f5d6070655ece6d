#pragma once
// Where finished exports go: the data directory (the default) or S3-compatible object storage
// (--storage s3://). The attempt, the sweeper, deletes and downloads see only this interface. Either way a
// job writes its partial files in the data directory; publishing (policy/publish_plan.hpp) makes the
// recorded bytes the finished export. In object storage a single-stream job's file is uploaded while it
// is written (a part_uploader), and the bytes in the store leave the local disk (a hole is punched).
// Every change to the store that others could see (completing an upload, aborting one) happens only after
// the job's record vouches for it under the lease: completing after `publishing` was recorded, aborting
// after the job's end (failed, cancelled) was.

#include "files/export_files.hpp"
#include "job/job_context.hpp"
#include "store/job_store.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/job.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

// What a store needs of the engine.
struct storage_services {
    boost::asio::any_io_executor executor;
    boost::asio::thread_pool& file_pool;
    job_store& store;
    const export_files& files;
};

// Sends a single-stream job's file to the store while the export writes it: a part as soon as a checkpoint
// vouches for its bytes, recorded in the job's checkpoint, then its bytes dropped from the local file.
// Runs beside the attempt on the engine's executor; the attempt closes it before it publishes or leaves.
class part_uploader {
public:
    virtual ~part_uploader() = default;
    // A checkpoint recorded (under the lease) that the file's first `bytes` bytes are durable.
    virtual void vouched(std::int64_t bytes) = 0;
    // Waits while two parts or more that checkpoints vouched for are not in the store yet: the export's
    // backpressure. Rethrows the uploader's failure (the attempt fails with it: unavailable_error makes the
    // job wait). Returns at once when the job is to stop; cancelled with the job's work.
    virtual boost::asio::awaitable<void> async_room() = 0;
    // Stops after the part in flight and waits for it. Never throws: publishing sends what is left.
    virtual boost::asio::awaitable<void> async_close() = 0;
};

// What an attempt finds in the store before it writes.
struct stored_prefix {
    std::int64_t bytes = 0; // the file's first bytes already in the store: the local file may have a hole there
    bool lost = false;      // the store lost bytes that the local file no longer holds: export from the start
    // The finished export is in the store already, with no publishing record: an upload completed by a
    // version that recorded none. What the job records as its file path; the job just completes.
    std::optional<std::string> published{};
};

// For a job whose record says `publishing`: what the store holds (publish_facts' store half).
struct published_facts {
    std::int64_t published_bytes = -1; // the finished export's length, -1 when it is not there
    bool upload_recorded = false;      // object storage: the recorded upload holds every byte
};

class export_storage {
public:
    virtual ~export_storage() = default;

    // Before an attempt writes: the job's upload as its checkpoint recorded it, checked with the store (the
    // parts it still has), or a new one, recorded at once. `bytes`: the checkpoint's length, where the
    // attempt goes on (-1 when not known: a parallel job, whose file exists only once assembled).
    // `streaming`: the local file of this job may have holes where recorded parts were. Throws as
    // async_stage.
    virtual boost::asio::awaitable<stored_prefix> async_prepare(job_context& job, std::int64_t bytes,
                                                                bool streaming) = 0;
    // For a single-stream job whose checkpoint is `bytes` long, after async_prepare: uploads `file` while it
    // is written (nullptr: the store takes the file only when it is published).
    virtual std::unique_ptr<part_uploader> start_uploader(job_context& job, std::filesystem::path file,
                                                          std::int64_t bytes) = 0;

    // Publishing, step 1: hands the whole partial file `part` (`bytes` long, fdatasync'd) to the store,
    // not yet visible: S3 uploads what the uploader has not, part by part, each recorded under the lease.
    // Nothing for the data directory. Throws unavailable_error while the store is out of reach,
    // operation_aborted when the job must stop.
    virtual boost::asio::awaitable<void> async_stage(job_context& job, const std::filesystem::path& part,
                                                     std::int64_t bytes) = 0;
    // Step 3, after `publishing` was recorded: makes the recorded bytes the finished export without ever
    // replacing one, and returns what the job records as its file path. The data directory links `part`
    // to <job>.csv (a file there already is another lease's publishing of the same bytes; one of another
    // length is refused); S3 completes the recorded upload. Throws as async_stage.
    virtual boost::asio::awaitable<std::string> async_publish(job_context& job, const std::filesystem::path& part,
                                                              std::int64_t bytes) = 0;
    // What a completed job records as its file path: <job>.csv in the data directory, or the object's URL.
    virtual std::string location_of(const std::string& id) const = 0;
    // For a job whose record says `publishing` of `bytes` bytes: what the store holds.
    virtual boost::asio::awaitable<published_facts> async_published(job_context& job, std::int64_t bytes) = 0;
    // Throws away what a job that ended unfinished (its record says failed or cancelled) left in the store.
    // Never throws.
    virtual boost::asio::awaitable<void> async_discard(job_context& job) = 0;
    // Removes the finished exports of `ids` from the store (the data directory's files are the sweeper's
    // and the delete's as before); how many were removed. Throws when the store cannot be reached.
    virtual boost::asio::awaitable<std::int64_t> async_remove(std::vector<std::string> ids) = 0;
    // A presigned URL for a completed job whose file is in the store, else nullopt.
    virtual std::optional<std::string> redirect_for(const job_info& job, std::chrono::seconds ttl) const = 0;
    // nullopt when the store answers, else why not.
    virtual boost::asio::awaitable<std::optional<std::string>> async_problem() = 0;
};

// The identity of the storage `config` names, recorded with each job (only instances of that storage
// claim it and serve its file): "dir:" and the data directory's id (files/data_dir.hpp), or the s3:// URL
// with its endpoint. Blocking (it may create the data directory's id file).
std::string storage_identity(const engine_config& config);

// The data directory: publishing is a link(2) that never replaces a finished file.
std::unique_ptr<export_storage> make_directory_storage(storage_services services);
// S3: multipart upload, presigned downloads. Its requests run on threads of its own.
std::unique_ptr<export_storage> make_s3_storage(storage_services services, const s3_storage_config& config);

} // namespace pgexport::engine::detail
