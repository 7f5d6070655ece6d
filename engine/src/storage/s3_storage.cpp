#include "storage/s3_storage.hpp"

#include "storage/s3_part_uploader.hpp"
#include "util/offload.hpp"

#include <pgexport/log.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

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

} // namespace

template <class F> auto s3_storage::run(F f) -> asio::awaitable<std::invoke_result_t<F&>> {
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

s3_storage::s3_storage(storage_services services, const s3_storage_config& config)
    : services_(std::move(services)), client_(config) {}

s3_storage::~s3_storage() {
    pool_.join();
    health_pool_.join();
}

asio::awaitable<void> s3_storage::async_load_upload(job_context& job) {
    if (job.upload.state)
        co_return;
    auto read = [id = job.id()](job_repository& r) { return r.upload_of(id); };
    const std::optional<std::string> text = co_await services_.store.on_writes(std::move(read));
    if (text)
        job.upload.state = multipart_state_from_json(*text);
}

asio::awaitable<stored_prefix> s3_storage::async_prepare(job_context& job, std::int64_t bytes, bool streaming) {
    const std::string key = client_.object_key(job.id());
    co_await async_load_upload(job);
    std::optional<multipart_state>& upload = job.upload.state;
    // No upload recorded reads as one gone with nothing in it.
    std::int64_t recorded = 0;
    bool gone = true;
    std::optional<std::int64_t> object;
    if (upload && upload->key == key) {
        recorded = multipart_plan(part_size(), upload->parts).uploaded_bytes();
        // Known gone: S3 answered NoSuchUpload to a part or to the completion.
        gone = std::exchange(job.upload.gone, false);
        if (recorded > 0) {
            auto size = [this, key] { return client_.object_size(key); };
            object = co_await run(std::move(size));
        }
        if (!gone && object != recorded) {
            try {
                auto list = [this, key, id = upload->upload_id] { return client_.list_parts(key, id); };
                const auto listed = co_await run(std::move(list));
                // A store without ListParts: the recorded parts are those it acknowledged.
                if (listed)
                    upload->parts = multipart_plan::reconcile(upload->parts, *listed);
            } catch (const s3_error& e) {
                if (e.code() != "NoSuchUpload")
                    throw;
                gone = true;
            }
        }
    }
    const std::int64_t kept = upload ? multipart_plan(part_size(), upload->parts).uploaded_bytes() : 0;
    const upload_decision decision = decide_upload(recorded, kept, gone, object, bytes, streaming);
    if (decision.action == upload_action::completed) {
        log_event("info", "s3_upload_found_complete", {{"job", job.id()}, {"key", key}, {"bytes", recorded}});
        co_return stored_prefix{recorded, false, client_.object_url(key)};
    }
    if (decision.action == upload_action::resume) {
        log_event("info", "s3_upload_resumed",
                  {{"job", job.id()},
                   {"upload", upload->upload_id},
                   {"parts_done", static_cast<std::int64_t>(upload->parts.size())},
                   {"bytes_done", kept}});
        co_return stored_prefix{kept, false};
    }
    if (decision.abort_old && upload) {
        // Only this lease's record names it now; the abort is recorded first (no upload), so a holder
        // that took over meanwhile never resumes an aborted upload.
        const multipart_state old = *std::exchange(upload, std::nullopt);
        co_await async_record(job);
        auto abort = [this, old] { client_.abort_upload(old.key, old.upload_id); };
        try {
            co_await run(std::move(abort));
        } catch (const std::exception& e) {
            log_event("warning", "s3_abort_failed", {{"job", job.id()}, {"upload", old.upload_id}, {"error", e.what()}});
        }
    }
    auto create = [this, key] { return client_.create_upload(key); };
    std::string id = co_await run(std::move(create));
    upload = multipart_state{key, std::move(id), {}};
    co_await async_record(job);
    log_event("info", "s3_upload_started", {{"job", job.id()}, {"key", key}, {"upload", upload->upload_id}});
    co_return stored_prefix{0, decision.restart_export};
}

std::unique_ptr<part_uploader> s3_storage::start_uploader(job_context& job, fs::path file, std::int64_t bytes) {
    auto uploader = std::make_unique<s3_part_uploader>(*this, job, std::move(file), bytes);
    uploader->start();
    return uploader;
}

asio::awaitable<void> s3_storage::async_stage(job_context& job, const fs::path& part, std::int64_t bytes) {
    if (!job.upload.state)
        throw std::logic_error("object storage: job " + job.id() + " published before its upload was prepared");
    multipart_plan plan(part_size(), job.upload.state->parts);
    if (plan.uploaded_bytes() > bytes)
        throw std::logic_error("object storage: the recorded parts of job " + job.id() + " hold " +
                               std::to_string(plan.uploaded_bytes()) + " bytes, its file " + std::to_string(bytes));
    while (auto next = plan.next(bytes, true))
        co_await async_send_part(job, part, plan, *next);
}

asio::awaitable<std::string> s3_storage::async_publish(job_context& job, const fs::path&, std::int64_t bytes) {
    co_await async_load_upload(job);
    const std::string key = client_.object_key(job.id());
    if (!job.upload.state || job.upload.state->key != key)
        throw std::runtime_error("object storage: job " + job.id() + " has no recorded upload to complete");
    const multipart_state upload = *job.upload.state;
    bool vanished = false;
    try {
        auto complete = [this, key, id = upload.upload_id, parts = upload.parts] {
            client_.complete_upload(key, id, parts);
        };
        co_await run(std::move(complete));
    } catch (const s3_error& e) {
        if (e.code() != "NoSuchUpload" && e.code() != "InvalidPart")
            throw;
        vanished = true;
    }
    if (vanished) {
        // Completed already by another lease publishing the same record (a stale holder, or this job's
        // previous run), or gone: the object tells.
        auto size = [this, key] { return client_.object_size(key); };
        const std::optional<std::int64_t> object = co_await run(std::move(size));
        if (object != bytes) {
            log_event("warning", "s3_upload_vanished", {{"job", job.id()}, {"upload", upload.upload_id}});
            throw std::runtime_error("object storage: the multipart upload of job " + job.id() +
                                     " vanished before it was completed (a bucket lifecycle rule?)");
        }
    }
    log_event("info", "s3_upload_completed",
              {{"job", job.id()}, {"key", key}, {"parts", static_cast<std::int64_t>(upload.parts.size())},
               {"bytes", bytes}});
    co_return client_.object_url(key);
}

asio::awaitable<published_facts> s3_storage::async_published(job_context& job, std::int64_t bytes) {
    co_await async_load_upload(job);
    const std::string key = client_.object_key(job.id());
    auto size = [this, key] { return client_.object_size(key); };
    const std::optional<std::int64_t> object = co_await run(std::move(size));
    const auto& upload = job.upload.state;
    const bool whole = upload && upload->key == key &&
                       multipart_plan(part_size(), upload->parts).uploaded_bytes() == bytes;
    co_return published_facts{object.value_or(-1), whole};
}

asio::awaitable<void> s3_storage::async_send_part(job_context& job, const fs::path& file, multipart_plan& plan,
                                                  part_range range) {
    job.stop.throw_if_requested();
    auto upload = [this, file, key = job.upload.state->key, id = job.upload.state->upload_id, range] {
        const std::string data = read_range(file, range.offset, range.bytes);
        return client_.upload_part(key, id, range.number, data);
    };
    std::string etag;
    try {
        etag = co_await run(std::move(upload));
    } catch (const s3_error& e) {
        if (e.code() != "NoSuchUpload")
            throw;
        job.upload.gone = true;
    }
    if (job.upload.gone) {
        log_event("warning", "s3_upload_vanished", {{"job", job.id()}, {"upload", job.upload.state->upload_id}});
        throw unavailable_error("object storage: the multipart upload of job " + job.id() + " is gone; a new one starts");
    }
    plan.record({range.number, std::move(etag), range.bytes});
    job.upload.state->parts = plan.parts();
    co_await async_record(job);
}

asio::awaitable<void> s3_storage::async_discard(job_context& job) {
    co_await async_load_upload(job);
    if (!job.upload.state)
        co_return;
    const multipart_state upload = *std::exchange(job.upload.state, std::nullopt);
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

asio::awaitable<std::int64_t> s3_storage::async_remove(std::vector<std::string> ids) {
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

std::optional<std::string> s3_storage::redirect_for(const job_info& job, std::chrono::seconds ttl) const {
    if (!job.file_path || !job.file_path->starts_with("s3://"))
        return std::nullopt;
    // The browser saves it under the name and type a local download has.
    std::string disposition = "attachment; filename=\"";
    disposition.append(download_file_name(job.id, job.request)).append("\"");
    return client_.presign_get(client_.object_key(job.id), ttl,
                               {{"response-content-disposition", disposition},
                                {"response-content-type", std::string(download_content_type(job.request))}});
}

asio::awaitable<std::optional<std::string>> s3_storage::async_problem() {
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

asio::awaitable<void> s3_storage::async_record(job_context& job) {
    // No upload: JSON null, which a resume reads as none.
    std::string text = job.upload.state ? to_json(*job.upload.state) : "null";
    auto record = [text = std::move(text)](job_repository& r, const job_fence::lease_name& l) {
        return r.record_upload(l.id, l.owner, l.token, text);
    };
    if (!co_await job.fence.async_write(std::move(record)))
        throw boost::system::system_error(asio::error::operation_aborted);
}

std::unique_ptr<export_storage> make_s3_storage(storage_services services, const s3_storage_config& config) {
    return std::make_unique<s3_storage>(std::move(services), config);
}

} // namespace pgexport::engine::detail
