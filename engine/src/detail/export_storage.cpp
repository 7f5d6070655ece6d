#include "detail/export_storage.hpp"

#include "detail/engine_state.hpp"
#include "detail/file_writer.hpp"
#include "detail/multipart_plan.hpp"
#include "detail/s3_client.hpp"

#include <pgexport/log.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

class directory_storage final : public export_storage {
public:
    explicit directory_storage(engine_state& state) : state_(state) {}

    asio::awaitable<std::string> async_publish(running_job&, const fs::path& part, const fs::path& final,
                                               std::int64_t) override {
        auto publish = [part, final] { durable_publish(part, final); };
        co_await async_offload(state_.file_pool, std::move(publish));
        co_return final.string();
    }
    asio::awaitable<void> async_discard(running_job&) override { co_return; }
    asio::awaitable<std::int64_t> async_remove(std::vector<std::string>) override { co_return 0; }
    std::optional<std::string> redirect_for(const job_info&, std::chrono::seconds) const override {
        return std::nullopt;
    }
    asio::awaitable<std::optional<std::string>> async_problem() override { co_return std::nullopt; }

private:
    engine_state& state_;
};

// Bytes [offset, offset + size) of `path`. Blocking. Throws std::system_error.
std::string read_range(const fs::path& path, std::int64_t offset, std::int64_t size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "cannot open " + path.string());
    std::string data(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    int error = 0;
    while (done < data.size()) {
        const ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? errno : EIO; // shorter than its checkpoint said
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (error)
        throw std::system_error(error, std::generic_category(), "cannot read " + path.string());
    return data;
}

class s3_storage final : public export_storage {
public:
    explicit s3_storage(engine_state& state) : state_(state), client_(*state.config.s3) {}
    ~s3_storage() override {
        pool_.join();
        health_pool_.join();
    }

    asio::awaitable<std::string> async_publish(running_job& job, const fs::path& part, const fs::path&,
                                               std::int64_t bytes) override {
        const std::string key = client_.object_key(job.id());
        co_await async_resume_upload(job, key, bytes);
        multipart_plan plan(static_cast<std::int64_t>(client_.config().part_size), job.upload->parts);
        if (!plan.next(bytes, true)) {
            // Every part was recorded by an earlier attempt, which may have completed the upload just before
            // it stopped: an object of the export's length under the job's key is this export (it is
            // deterministic), as durable_publish judges a finished file.
            auto size = [this, key] { return client_.object_size(key); };
            const std::optional<std::int64_t> found = co_await run(std::move(size));
            if (found == bytes) {
                log_event("info", "s3_upload_found_complete", {{"job", job.id()}, {"key", key}, {"bytes", bytes}});
                co_return client_.object_url(key);
            }
        }
        while (auto next = plan.next(bytes, true)) {
            if (job.should_stop())
                throw stop_job{};
            auto upload = [this, part, key, id = job.upload->upload_id, range = *next] {
                const std::string data = read_range(part, range.offset, range.bytes);
                return client_.upload_part(key, id, range.number, data);
            };
            std::string etag = co_await run(std::move(upload));
            plan.record({next->number, std::move(etag), next->bytes});
            job.upload->parts = plan.parts();
            co_await async_record(job);
        }
        if (job.should_stop())
            throw stop_job{};
        bool vanished = false;
        try {
            auto complete = [this, key, id = job.upload->upload_id, parts = plan.parts()] {
                client_.complete_upload(key, id, parts);
            };
            co_await run(std::move(complete));
        } catch (const s3_error& e) {
            // Lost (a lifecycle rule aborted it, say): the upload starts over, from its checkpoint too.
            if (e.code() != "NoSuchUpload")
                throw;
            vanished = true;
        }
        if (vanished) {
            log_event("warning", "s3_upload_vanished", {{"job", job.id()}, {"upload", job.upload->upload_id}});
            job.upload.reset();
            co_await async_record(job);
            throw unavailable_error("object storage: the multipart upload of job " + job.id() +
                                    " is gone; it starts over");
        }
        log_event("info", "s3_upload_completed",
                  {{"job", job.id()}, {"key", key}, {"parts", static_cast<std::int64_t>(plan.parts().size())},
                   {"bytes", bytes}});
        co_return client_.object_url(key);
    }

    asio::awaitable<void> async_discard(running_job& job) override {
        if (!job.upload)
            co_return;
        const multipart_state upload = *std::exchange(job.upload, std::nullopt);
        try {
            auto abort = [this, upload] { client_.abort_upload(upload.key, upload.upload_id); };
            co_await run(std::move(abort));
            log_event("info", "s3_upload_aborted", {{"job", job.id()}, {"upload", upload.upload_id}});
        } catch (const std::exception& e) {
            // An incomplete upload costs storage until the bucket's lifecycle rule removes it; nothing to
            // fail for. See docs/scaling.md.
            log_event("warning", "s3_abort_failed", {{"job", job.id()}, {"upload", upload.upload_id}, {"error", e.what()}});
        }
    }

    asio::awaitable<std::int64_t> async_remove(std::vector<std::string> ids) override {
        auto remove = [this, ids = std::move(ids)] {
            std::int64_t removed = 0;
            for (const auto& id : ids) {
                client_.delete_object(client_.object_key(id));
                ++removed;
            }
            return removed;
        };
        co_return co_await run(std::move(remove));
    }

    std::optional<std::string> redirect_for(const job_info& job, std::chrono::seconds ttl) const override {
        if (!job.file_path || !job.file_path->starts_with("s3://"))
            return std::nullopt;
        // The browser saves it under the name and type a local download has.
        std::string disposition = "attachment; filename=\"";
        disposition.append(download_file_name(job.id, job.request)).append("\"");
        return client_.presign_get(client_.object_key(job.id), ttl,
                                   {{"response-content-disposition", disposition},
                                    {"response-content-type", std::string(download_content_type(job.request))}});
    }

    asio::awaitable<std::optional<std::string>> async_problem() override {
        auto check = [this]() -> std::optional<std::string> {
            try {
                client_.check_bucket();
                return std::nullopt;
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        };
        co_return co_await async_offload(health_pool_, std::move(check));
    }

private:
    // f() on the storage threads; a store out of reach becomes unavailable_error (the job waits for it,
    // however long), a refusal stays s3_error (the job fails with S3's reason).
    template <class F> auto run(F f) -> asio::awaitable<std::invoke_result_t<F&>> {
        return async_offload(pool_, [f = std::move(f)]() mutable {
            try {
                return f();
            } catch (const s3_error& e) {
                if (e.transient())
                    throw unavailable_error(e.what());
                throw;
            }
        });
    }

    // job.upload: the upload of `key` the checkpoint recorded, with the parts S3 still has, or a new one
    // (recorded at once, so that a cancel after a crash finds it).
    asio::awaitable<void> async_resume_upload(running_job& job, const std::string& key, std::int64_t bytes) {
        if (!job.upload) {
            auto read = [id = job.id()](job_repository& r) { return r.upload_of(id); };
            const std::optional<std::string> text = co_await state_.on_jobs(std::move(read));
            if (text)
                job.upload = multipart_state_from_json(*text);
        }
        if (job.upload && job.upload->key == key) {
            try {
                auto list = [this, key, id = job.upload->upload_id] { return client_.list_parts(key, id); };
                const auto listed = co_await run(std::move(list));
                // A store without ListParts: the recorded parts are those it acknowledged.
                if (listed)
                    job.upload->parts = multipart_plan::reconcile(job.upload->parts, *listed);
                const multipart_plan plan(static_cast<std::int64_t>(client_.config().part_size), job.upload->parts);
                if (plan.uploaded_bytes() <= bytes) {
                    log_event("info", "s3_upload_resumed",
                              {{"job", job.id()},
                               {"upload", job.upload->upload_id},
                               {"parts_done", static_cast<std::int64_t>(plan.parts().size())},
                               {"bytes_done", plan.uploaded_bytes()}});
                    co_return;
                }
            } catch (const s3_error& e) {
                if (e.code() != "NoSuchUpload")
                    throw;
            }
        }
        auto create = [this, key] { return client_.create_upload(key); };
        std::string id = co_await run(std::move(create));
        job.upload = multipart_state{key, std::move(id), {}};
        co_await async_record(job);
        log_event("info", "s3_upload_started", {{"job", job.id()}, {"key", key}, {"upload", job.upload->upload_id}});
    }

    // The upload as it stands (or none) into the job's checkpoint, under the lease.
    asio::awaitable<void> async_record(running_job& job) {
        // No upload: JSON null, which a resume reads as none.
        std::string text = job.upload ? to_json(*job.upload) : "null";
        auto record = [id = job.id(), owner = state_.config.instance_id, token = job.token(),
                       text = std::move(text)](job_repository& r) { return r.record_upload(id, owner, token, text); };
        const auto sent = lease_tracker::clock::now();
        const lease_state s = co_await state_.on_jobs(std::move(record));
        if (!job.lease_answered(s, sent))
            throw stop_job{};
    }

    engine_state& state_;
    s3_client client_;
    asio::thread_pool pool_{2};        // the uploads; at most one request per running job
    asio::thread_pool health_pool_{1}; // /healthz's check, behind no upload
};

} // namespace

std::unique_ptr<export_storage> make_directory_storage(engine_state& state) {
    return std::make_unique<directory_storage>(state);
}

std::unique_ptr<export_storage> make_s3_storage(engine_state& state) {
    return std::make_unique<s3_storage>(state);
}

} // namespace pgexport::engine::detail
