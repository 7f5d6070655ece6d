#include "storage/export_storage.hpp"

#include "runtime/engine_state.hpp"
#include "files/file_writer.hpp"
#include "policy/multipart_plan.hpp"
#include "s3/s3_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

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
    asio::awaitable<stored_prefix> async_prepare(running_job&, std::int64_t, bool) override { co_return stored_prefix{}; }
    std::unique_ptr<part_uploader> start_uploader(running_job&, fs::path, std::int64_t) override { return nullptr; }
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

class s3_storage;

// The uploader of one attempt: wakes at each checkpoint, sends every whole part the checkpoints vouch for,
// one at a time, and frees each part's bytes on the local disk once the part is recorded.
class s3_part_uploader final : public part_uploader {
public:
    s3_part_uploader(s3_storage& storage, engine_state& state, running_job& job, fs::path file,
                     std::int64_t vouched, std::int64_t part_size);
    void start();
    void vouched(std::int64_t bytes) override {
        vouched_ = std::max(vouched_, bytes);
        wake_.cancel();
    }
    asio::awaitable<void> async_room() override {
        for (;;) {
            if (failure_)
                std::rethrow_exception(failure_);
            if (job_.should_stop() || finished_.is_set() || vouched_ - plan_.uploaded_bytes() < 2 * part_size_)
                co_return;
            boost::system::error_code ec;
            co_await room_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    void interrupt() override {
        wake_.cancel();
        room_.cancel();
    }
    asio::awaitable<void> async_close() override {
        closing_ = true;
        wake_.cancel();
        co_await finished_.async_wait();
    }

private:
    asio::awaitable<void> async_run();

    s3_storage& storage_;
    engine_state& state_;
    running_job& job_;
    fs::path file_;
    std::int64_t vouched_;   // bytes of the file that a checkpoint recorded
    std::int64_t part_size_;
    multipart_plan plan_;    // the parts recorded, as job_.upload holds them: nothing else records one meanwhile
    bool closing_ = false;
    bool holes_ = true;      // the file system frees the bytes of a range (fallocate's hole punching)
    std::exception_ptr failure_;
    // Timers that never expire, cancelled to wake their waiters: a checkpoint wakes the uploader (wake_),
    // a part sent or a failure wakes the export waiting for room (room_).
    asio::steady_timer wake_;
    asio::steady_timer room_;
    event finished_;
};

class s3_storage final : public export_storage {
public:
    explicit s3_storage(engine_state& state) : state_(state), client_(*state.config.s3) {}
    ~s3_storage() override {
        pool_.join();
        health_pool_.join();
    }

    asio::awaitable<stored_prefix> async_prepare(running_job& job, std::int64_t bytes, bool streaming) override {
        const std::string key = client_.object_key(job.id());
        if (!job.upload) {
            auto read = [id = job.id()](job_repository& r) { return r.upload_of(id); };
            const std::optional<std::string> text = co_await state_.on_jobs(std::move(read));
            if (text)
                job.upload = multipart_state_from_json(*text);
        }
        // No upload recorded reads as one gone with nothing in it.
        std::int64_t recorded = 0;
        bool gone = true;
        std::optional<std::int64_t> object;
        if (job.upload && job.upload->key == key) {
            recorded = multipart_plan(part_size(), job.upload->parts).uploaded_bytes();
            // Known gone: S3 answered NoSuchUpload to a part or to the completion.
            gone = std::exchange(job.upload_gone, false);
            if (recorded > 0) {
                auto size = [this, key] { return client_.object_size(key); };
                object = co_await run(std::move(size));
            }
            if (!gone && object != recorded) {
                try {
                    auto list = [this, key, id = job.upload->upload_id] { return client_.list_parts(key, id); };
                    const auto listed = co_await run(std::move(list));
                    // A store without ListParts: the recorded parts are those it acknowledged.
                    if (listed)
                        job.upload->parts = multipart_plan::reconcile(job.upload->parts, *listed);
                } catch (const s3_error& e) {
                    if (e.code() != "NoSuchUpload")
                        throw;
                    gone = true;
                }
            }
        }
        const std::int64_t kept = job.upload ? multipart_plan(part_size(), job.upload->parts).uploaded_bytes() : 0;
        const upload_decision decision = decide_upload(recorded, kept, gone, object, bytes, streaming);
        if (decision.action == upload_action::completed) {
            log_event("info", "s3_upload_found_complete", {{"job", job.id()}, {"key", key}, {"bytes", recorded}});
            co_return stored_prefix{recorded, false, client_.object_url(key)};
        }
        if (decision.action == upload_action::resume) {
            log_event("info", "s3_upload_resumed",
                      {{"job", job.id()},
                       {"upload", job.upload->upload_id},
                       {"parts_done", static_cast<std::int64_t>(job.upload->parts.size())},
                       {"bytes_done", kept}});
            co_return stored_prefix{kept, false};
        }
        if (decision.abort_old)
            co_await async_discard(job);
        auto create = [this, key] { return client_.create_upload(key); };
        std::string id = co_await run(std::move(create));
        job.upload = multipart_state{key, std::move(id), {}};
        co_await async_record(job);
        log_event("info", "s3_upload_started", {{"job", job.id()}, {"key", key}, {"upload", job.upload->upload_id}});
        co_return stored_prefix{0, decision.restart_export};
    }

    std::unique_ptr<part_uploader> start_uploader(running_job& job, fs::path file, std::int64_t bytes) override {
        auto uploader = std::make_unique<s3_part_uploader>(*this, state_, job, std::move(file), bytes, part_size());
        uploader->start();
        return uploader;
    }

    asio::awaitable<std::string> async_publish(running_job& job, const fs::path& part, const fs::path&,
                                               std::int64_t bytes) override {
        if (!job.upload)
            throw std::logic_error("object storage: job " + job.id() + " published before its upload was prepared");
        const std::string key = job.upload->key;
        multipart_plan plan(part_size(), job.upload->parts);
        if (plan.uploaded_bytes() > bytes)
            throw std::logic_error("object storage: the recorded parts of job " + job.id() + " hold " +
                                   std::to_string(plan.uploaded_bytes()) + " bytes, its file " +
                                   std::to_string(bytes));
        while (auto next = plan.next(bytes, true))
            co_await async_send_part(job, part, plan, *next);
        if (job.should_stop())
            throw stop_job{};
        bool vanished = false;
        try {
            auto complete = [this, key, id = job.upload->upload_id, parts = plan.parts()] {
                client_.complete_upload(key, id, parts);
            };
            co_await run(std::move(complete));
        } catch (const s3_error& e) {
            // Lost (a lifecycle rule aborted it, say) or a part not as recorded: the next attempt's
            // async_prepare sees it and starts a new upload (and the export over, if its bytes are gone).
            if (e.code() != "NoSuchUpload" && e.code() != "InvalidPart")
                throw;
            vanished = true;
            job.upload_gone = true; // S3 cannot complete it as recorded: the next attempt starts a new one
        }
        if (vanished) {
            log_event("warning", "s3_upload_vanished", {{"job", job.id()}, {"upload", job.upload->upload_id}});
            throw unavailable_error("object storage: the multipart upload of job " + job.id() +
                                    " is gone or changed; it starts over");
        }
        log_event("info", "s3_upload_completed",
                  {{"job", job.id()}, {"key", key}, {"parts", static_cast<std::int64_t>(plan.parts().size())},
                   {"bytes", bytes}});
        co_return client_.object_url(key);
    }

    // Sends bytes `range` of `file` as the next part of the job's upload and records it in the job's
    // checkpoint (plan and job.upload too).
    asio::awaitable<void> async_send_part(running_job& job, const fs::path& file, multipart_plan& plan,
                                          part_range range) {
        if (job.should_stop())
            throw stop_job{};
        auto upload = [this, file, key = job.upload->key, id = job.upload->upload_id, range] {
            const std::string data = read_range(file, range.offset, range.bytes);
            return client_.upload_part(key, id, range.number, data);
        };
        std::string etag;
        try {
            etag = co_await run(std::move(upload));
        } catch (const s3_error& e) {
            if (e.code() != "NoSuchUpload")
                throw;
            job.upload_gone = true;
        }
        if (job.upload_gone) {
            log_event("warning", "s3_upload_vanished", {{"job", job.id()}, {"upload", job.upload->upload_id}});
            throw unavailable_error("object storage: the multipart upload of job " + job.id() +
                                    " is gone; a new one starts");
        }
        plan.record({range.number, std::move(etag), range.bytes});
        job.upload->parts = plan.parts();
        co_await async_record(job);
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
    std::int64_t part_size() const { return static_cast<std::int64_t>(client_.config().part_size); }

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

s3_part_uploader::s3_part_uploader(s3_storage& storage, engine_state& state, running_job& job, fs::path file,
                                   std::int64_t vouched, std::int64_t part_size)
    : storage_(storage), state_(state), job_(job), file_(std::move(file)), vouched_(vouched),
      part_size_(part_size), plan_(part_size, job.upload ? job.upload->parts : std::vector<uploaded_part>{}), wake_(state.executor, asio::steady_timer::time_point::max()),
      room_(state.executor, asio::steady_timer::time_point::max()), finished_(state.executor) {}

void s3_part_uploader::start() {
    asio::co_spawn(state_.executor, async_run(), [this](std::exception_ptr) { finished_.set(); });
}

asio::awaitable<void> s3_part_uploader::async_run() {
    try {
        if (!job_.upload)
            throw std::logic_error("object storage: job " + job_.id() + " uploads before its upload was prepared");
        while (!closing_ && !job_.should_stop()) {
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
                const std::optional<std::string> kept = co_await async_offload(state_.file_pool, std::move(free_bytes));
                holes_ = !kept;
                if (kept)
                    log_event("warning", "s3_local_bytes_kept", {{"job", job_.id()}, {"why", *kept}});
            }
            room_.cancel();
        }
    } catch (const stop_job&) {
    } catch (...) {
        failure_ = std::current_exception();
    }
    room_.cancel();
}

} // namespace

std::unique_ptr<export_storage> make_directory_storage(engine_state& state) {
    return std::make_unique<directory_storage>(state);
}

std::unique_ptr<export_storage> make_s3_storage(engine_state& state) {
    return std::make_unique<s3_storage>(state);
}

} // namespace pgexport::engine::detail
