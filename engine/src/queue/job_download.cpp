#include "queue/job_download.hpp"

#include "storage/export_storage.hpp"

#include <pgexport/log.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

asio::awaitable<result<export_download>> async_open_download(engine_state& st, const job_info& job,
                                                            std::chrono::seconds ttl) {
    if (job.status != job_status::completed)
        co_return problem{errc::conflict, "job " + job.id + " is " + std::string(to_string(job.status)) +
                                              "; its file can be downloaded once it is completed"};
    if (job.storage && *job.storage != st.storage_id)
        co_return problem{errc::other_storage,
                          "the file of job " + job.id + " is in another data directory or bucket than this"
                          " instance's; ask an instance that shares the one the job was created on"};
    if (auto location = st.storage->redirect_for(job, ttl))
        co_return export_download{-1, 0, std::move(*location)};
    // The path comes from the validated id, never from a request's text.
    auto open = [path = st.files.final(job.id)]() -> std::optional<export_download> {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat info {};
        if (fd < 0)
            return std::nullopt;
        if (::fstat(fd, &info) != 0) {
            ::close(fd);
            return std::nullopt;
        }
        return export_download{fd, static_cast<std::uint64_t>(info.st_size)};
    };
    auto opened = co_await async_offload(st.file_pool, std::move(open));
    if (!opened) {
        log_event("error", "download_missing_file", {{"job", job.id}});
        co_return problem{errc::file_missing, "the file of job " + job.id + " is no longer on the server"};
    }
    co_return *opened;
}

} // namespace pgexport::engine::detail
