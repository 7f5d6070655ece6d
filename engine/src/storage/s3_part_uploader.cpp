#include "storage/s3_part_uploader.hpp"

#include "files/file_writer.hpp"
#include "util/offload.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

s3_part_uploader::s3_part_uploader(s3_storage& storage, job_context& job, fs::path file, std::int64_t vouched)
    : storage_(storage), job_(job), file_(std::move(file)), vouched_(vouched), part_size_(storage.part_size()),
      plan_(part_size_, job.upload.state ? job.upload.state->parts : std::vector<uploaded_part>{}),
      wake_(storage.services().executor, asio::steady_timer::time_point::max()),
      room_(storage.services().executor, asio::steady_timer::time_point::max()),
      finished_(storage.services().executor) {}

void s3_part_uploader::start() {
    // Its own task beside the attempt, which closes it (and waits for it) on every way out.
    asio::co_spawn(storage_.services().executor, async_run(), [this](std::exception_ptr e) {
        if (e)
            failure_ = e;
        finished_.set();
    });
}

void s3_part_uploader::vouched(std::int64_t bytes) {
    vouched_ = std::max(vouched_, bytes);
    wake_.cancel();
}

asio::awaitable<void> s3_part_uploader::async_room() {
    for (;;) {
        if (failure_)
            std::rethrow_exception(failure_);
        if (job_.stop.requested() || finished_.is_set() || vouched_ - plan_.uploaded_bytes() < 2 * part_size_)
            co_return;
        // Cancelled with the job's work: the loop then sees the stop.
        boost::system::error_code ec;
        co_await room_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> s3_part_uploader::async_close() {
    closing_ = true;
    wake_.cancel();
    co_await finished_.async_wait();
}

asio::awaitable<void> s3_part_uploader::async_run() {
    try {
        if (!job_.upload.state)
            throw std::logic_error("object storage: job " + job_.id() + " uploads before its upload was prepared");
        while (!closing_ && !job_.stop.requested()) {
            const std::optional<part_range> next = plan_.next(vouched_, false);
            if (!next) {
                boost::system::error_code ec;
                co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            co_await storage_.async_send_part(job_, file_, plan_, *next);
            if (holes_) {
                // Recorded: the bytes are the store's now, and a resume starts after them. Freeing them is
                // only a saving: a file system without hole punching, or any failure, keeps them.
                auto free_bytes = [file = file_, range = *next]() -> std::optional<std::string> {
                    try {
                        if (punch_hole(file, range.offset, range.bytes))
                            return std::nullopt;
                        return std::string("the data directory's file system cannot punch holes");
                    } catch (const std::exception& e) {
                        return std::string(e.what());
                    }
                };
                const std::optional<std::string> kept =
                    co_await async_offload(storage_.services().file_pool, std::move(free_bytes));
                holes_ = !kept;
                if (kept)
                    log_event("warning", "s3_local_bytes_kept", {{"job", job_.id()}, {"why", *kept}});
            }
            room_.cancel();
        }
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted || !job_.stop.requested())
            failure_ = std::current_exception();
    } catch (...) {
        failure_ = std::current_exception();
    }
    room_.cancel();
}

} // namespace pgexport::engine::detail
