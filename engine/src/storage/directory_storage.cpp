// The data directory as the store of finished exports: <job>.csv beside the partial files.

#include "files/data_dir.hpp"
#include "files/file_writer.hpp"
#include "policy/publish_plan.hpp"
#include "storage/export_storage.hpp"
#include "util/offload.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

class directory_storage final : public export_storage {
public:
    explicit directory_storage(storage_services services) : services_(std::move(services)) {}

    asio::awaitable<stored_prefix> async_prepare(job_context&, std::int64_t, bool) override { co_return stored_prefix{}; }
    std::unique_ptr<part_uploader> start_uploader(job_context&, fs::path, std::int64_t) override { return nullptr; }
    asio::awaitable<void> async_stage(job_context&, const fs::path&, std::int64_t) override { co_return; }

    asio::awaitable<std::string> async_publish(job_context& job, const fs::path& part, std::int64_t bytes) override {
        const fs::path final = services_.files.final(job.id());
        // This lease's own partial file goes with its link: no partial file outlives the finished one.
        auto publish = [part, final, bytes] {
            const std::int64_t existing = link_unless_exists(part, final);
            if (existing < 0 || published_file_matches(existing, bytes)) {
                std::error_code ec;
                fs::remove(part, ec);
            }
            return existing;
        };
        const std::int64_t existing = co_await async_offload(services_.file_pool, std::move(publish));
        // A file there already was published by another lease of the job from the same record (a stale
        // holder that linked late, or the lease before this one): the same bytes. One of another length
        // was put there behind our back, and is not replaced.
        if (existing >= 0 && !published_file_matches(existing, bytes))
            throw std::runtime_error("cannot publish: " + final.string() + " exists with " + std::to_string(existing) +
                                     " bytes where the export has " + std::to_string(bytes) +
                                     "; it was not written by this job, and is left alone");
        co_return final.string();
    }

    std::string location_of(const std::string& id) const override { return services_.files.final(id).string(); }

    asio::awaitable<published_facts> async_published(job_context& job, std::int64_t) override {
        auto length = [final = services_.files.final(job.id())] { return file_writer::length_of(final); };
        co_return published_facts{co_await async_offload(services_.file_pool, std::move(length)), false};
    }

    asio::awaitable<void> async_discard(job_context&) override { co_return; }
    asio::awaitable<std::int64_t> async_remove(std::vector<std::string>) override { co_return 0; }
    std::optional<std::string> redirect_for(const job_info&, std::chrono::seconds) const override {
        return std::nullopt;
    }
    asio::awaitable<std::optional<std::string>> async_problem() override { co_return std::nullopt; }

private:
    storage_services services_;
};

} // namespace

std::unique_ptr<export_storage> make_directory_storage(storage_services services) {
    return std::make_unique<directory_storage>(std::move(services));
}

std::string storage_identity(const engine_config& config) {
    if (config.s3) {
        const s3_storage_config& s3 = *config.s3;
        std::string id = "s3://" + s3.bucket;
        if (!s3.prefix.empty())
            id += "/" + s3.prefix;
        if (!s3.endpoint.empty())
            id += " at " + s3.endpoint;
        return id;
    }
    return "dir:" + data_dir_id(config.data_dir);
}

} // namespace pgexport::engine::detail
