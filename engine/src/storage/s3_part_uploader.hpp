#pragma once
// The uploader of one attempt of a single-stream job in object storage: wakes at each checkpoint, sends
// every whole part the checkpoints vouch for, one at a time, records each (the store's
// async_send_part), and then frees the part's bytes on the local disk.

#include "storage/s3_storage.hpp"
#include "util/event.hpp"

#include <boost/asio/steady_timer.hpp>

namespace pgexport::engine::detail {

class s3_part_uploader final : public part_uploader {
public:
    s3_part_uploader(s3_storage& storage, job_context& job, std::filesystem::path file, std::int64_t vouched);
    void start();
    void vouched(std::int64_t bytes) override;
    boost::asio::awaitable<void> async_room() override;
    boost::asio::awaitable<void> async_close() override;

private:
    boost::asio::awaitable<void> async_run();

    s3_storage& storage_;
    job_context& job_;
    std::filesystem::path file_;
    std::int64_t vouched_;   // bytes of the file that a checkpoint recorded
    std::int64_t part_size_;
    multipart_plan plan_;    // the parts recorded, as job_.upload holds them: nothing else records one meanwhile
    bool closing_ = false;
    bool holes_ = true;      // the file system frees the bytes of a range (fallocate's hole punching)
    std::exception_ptr failure_;
    // Timers that never expire, cancelled to wake their waiters: a checkpoint wakes the uploader (wake_),
    // a part sent or a failure wakes the export waiting for room (room_).
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer room_;
    event finished_;
};

} // namespace pgexport::engine::detail
