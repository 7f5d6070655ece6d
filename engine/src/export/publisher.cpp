#include "export/publisher.hpp"

#include "files/file_writer.hpp"
#include "policy/publish_plan.hpp"
#include "storage/export_storage.hpp"

#include <pgexport/log.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

[[noreturn]] void aborted() {
    throw boost::system::system_error(asio::error::operation_aborted);
}

} // namespace

asio::awaitable<void> async_complete(engine_state& state, job_context& job, std::string location,
                                     std::int64_t bytes) {
    auto complete = [location, rows = job.progress.rows, bytes,
                     attempts = job.progress.attempts](job_repository& r, const job_fence::lease_name& l) {
        return r.complete(l.id, l.owner, l.token, location, rows, bytes, attempts);
    };
    const bool held = co_await job.fence.async_write(std::move(complete));
    if (!held && job.stop.cause() == stop_cause::cancelled) {
        // Cancelled at the last moment (the record says so, and never completed): the export goes.
        auto remove = [final = state.files.final(job.id())] {
            std::error_code ec;
            fs::remove(final, ec);
        };
        co_await async_offload(state.file_pool, std::move(remove));
        std::vector<std::string> gone{job.id()};
        try {
            co_await state.storage->async_remove(std::move(gone));
        } catch (const std::exception& e) {
            // The sweeper's orphan pass does not list the bucket: say so, for whoever empties it.
            log_event("warning", "s3_remove_failed", {{"job", job.id()}, {"error", e.what()}});
        }
    }
    if (!held)
        aborted(); // lost: the export is whole; the instance that holds the job records it
    job.job.info.status = job_status::completed;
    log_event("info", "job_completed", {{"job", job.id()}, {"rows", job.progress.rows}, {"bytes", bytes}});
    // The record says completed: nobody writes the job's partial files any more.
    auto clean_up = [&files = state.files, id = job.id()] { files.remove_partials(id); };
    co_await async_offload(state.file_pool, std::move(clean_up));
}

asio::awaitable<void> async_publish_export(engine_state& state, job_context& job, fs::path part, std::int64_t bytes) {
    co_await state.storage->async_stage(job, part, bytes);
    job.stop.throw_if_requested();
    const publish_record record{job.token(), bytes};
    auto mark = [record, rows = job.progress.rows, attempts = job.progress.attempts](job_repository& r,
                                                                                     const job_fence::lease_name& l) {
        return r.record_publishing(l.id, l.owner, l.token, record, rows, attempts);
    };
    if (!co_await job.fence.async_write(std::move(mark)))
        aborted();
    job.job.publishing = record;
    job.progress.bytes = bytes;
    // The record names this lease's part as the only bytes a resume may need: the older leases' files are
    // vouched for no more (a resume with no chunk left to export publishes without a checkpoint), and a
    // parallel job's slices are in the part. They go before the completion is recorded, so a completed job
    // has no partial file left in the data directory.
    auto clean = [&files = state.files, id = job.id(), token = job.token()] { files.remove_all_but_part(id, token); };
    co_await async_offload(state.file_pool, std::move(clean));
    log_event("info", "job_publishing", {{"job", job.id()}, {"token", job.token()}, {"bytes", bytes}});
    const std::string location = co_await state.storage->async_publish(job, part, bytes);
    log_event("info", "job_published", {{"job", job.id()}, {"token", job.token()}});
    co_await async_complete(state, job, location, bytes);
}

asio::awaitable<void> async_publish_recorded(engine_state& state, job_context& job) {
    const publish_record recorded = *job.job.publishing;
    const fs::path source = state.files.part(job.id(), recorded.token);
    publish_facts facts{recorded};
    const published_facts stored = co_await state.storage->async_published(job, recorded.bytes);
    facts.published_bytes = stored.published_bytes;
    facts.upload_recorded = stored.upload_recorded;
    auto length = [source] { return file_writer::length_of(source); };
    facts.recorded_part_bytes = co_await async_offload(state.file_pool, std::move(length));
    const publish_decision decision = plan_publish(facts);
    job.progress.bytes = recorded.bytes;
    switch (decision.action) {
    case publish_action::complete:
        log_event("info", "job_found_published", {{"job", job.id()}, {"by_token", recorded.token}});
        co_await async_complete(state, job, state.storage->location_of(job.id()), recorded.bytes);
        co_return;
    case publish_action::publish: {
        // The recorded lease's bytes, as they are: copied into this lease's own file first (an attempt
        // never links another lease's file), unless object storage holds them.
        const fs::path own = state.files.part(job.id(), job.token());
        if (!facts.upload_recorded && source != own) {
            auto copy = [source, own, bytes = recorded.bytes] { copy_prefix(source, own, bytes); };
            co_await async_offload(state.file_pool, std::move(copy));
        }
        const std::string location = co_await state.storage->async_publish(job, own, recorded.bytes);
        log_event("info", "job_published", {{"job", job.id()}, {"token", job.token()}, {"recorded_by", recorded.token}});
        co_await async_complete(state, job, location, recorded.bytes);
        co_return;
    }
    case publish_action::start_over:
    case publish_action::refuse:
        throw std::runtime_error("cannot publish job " + job.id() + ": " + decision.reason);
    }
}

} // namespace pgexport::engine::detail
