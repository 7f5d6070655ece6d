#include "export/export_attempt.hpp"

#include "export/publisher.hpp"
#include "export/slice_runner.hpp"
#include "export/snapshot_session.hpp"
#include "export/stream.hpp"
#include "files/file_writer.hpp"
#include "policy/job_policy.hpp"
#include "storage/export_storage.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/this_coro.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

asio::awaitable<void> export_attempt(engine_state& state, std::shared_ptr<job_context> ctx) {
    // A stop cancels the wait in progress (it ends with operation_aborted); the attempt's loops look at
    // the cause themselves, so that the steps that must run to their end (waiting for a write in flight,
    // a checkpoint) are not cut short.
    co_await asio::this_coro::throw_if_cancelled(false);
    job_context& job = *ctx;
    if (job.job.publishing) {
        co_await async_publish_recorded(state, job);
        co_return;
    }
    // A snapshot job reads under its snapshot: held here already, or taken now (the rows written under the
    // recorded one checked: the job may start over). Joining a parallel job's finished slices needs none.
    if (!job.parallel() || !all_done(job.slices.held))
        co_await async_hold_snapshot(state, job);
    if (job.parallel()) {
        co_await export_slices(state, ctx);
        co_return;
    }
    const std::string& id = job.id();
    const fs::path own = state.files.part(id, job.token());
    const fs::path source = state.files.part(id, job.job.part_token);
    const fs::path final = state.files.final(id);

    const resume_plan plan =
        plan_resume({job.progress.bytes}, {file_writer::length_of(source), file_writer::length_of(final)});
    if (plan.action == resume_action::finish) {
        // Published by a version that recorded no `publishing`, its completion not recorded.
        co_await async_complete(state, job, final.string(), file_writer::length_of(final));
        co_return;
    }
    if (plan.action == resume_action::restart) {
        // The checkpoint's bytes are gone: removed by a newer lease (then this one is stale), or the data
        // directory changed behind our back. Only a proven lease starts over.
        if (!co_await job.fence.async_renew())
            job.stop.throw_if_requested();
        log_event("warning", "job_restarted", {{"job", id}, {"reason", plan.reason}});
        job.progress.start_over();
    }
    // Object storage: the upload goes on after the parts it holds (the local file may have a hole there),
    // or a new one starts.
    const stored_prefix stored = co_await state.storage->async_prepare(job, job.progress.bytes, true);
    if (stored.published) {
        co_await async_complete(state, job, *stored.published, stored.bytes);
        co_return;
    }
    if (stored.lost) {
        log_event("warning", "job_restarted",
                  {{"job", id}, {"reason", "object storage lost parts whose bytes the local file gave up"}});
        job.progress.start_over();
    }
    if (job.progress.bytes > 0 && source != own) {
        // Taken over: this lease writes a file of its own, so that the previous holder, should it wake up
        // and write on, can never touch it. The checkpoint's bytes are copied in first (read from the
        // previous lease's file, which is left as it is), but those in the store.
        auto copy = [source, own, bytes = job.progress.bytes, hole = stored.bytes] {
            copy_prefix(source, own, bytes, hole);
        };
        co_await async_offload(state.file_pool, std::move(copy));
        log_event("info", "job_taken_over", {{"job", id}, {"bytes", job.progress.bytes}, {"token", job.token()}});
    }
    job.progress.live_rows = job.progress.rows;
    job.progress.live_bytes = job.progress.bytes;

    // In object storage the file goes to the store while it is written; the uploader stops before anything
    // else touches the upload.
    const std::unique_ptr<part_uploader> uploader = state.storage->start_uploader(job, own, job.progress.bytes);
    std::exception_ptr failure;
    std::int64_t bytes = 0;
    try {
        auto stream = async_stream(state, job, own, job.progress.bytes, std::nullopt, uploader.get());
        bytes = co_await async_read_under_snapshot(state, job, std::move(stream));
    } catch (...) {
        failure = std::current_exception();
    }
    if (uploader)
        co_await uploader->async_close();
    if (failure)
        std::rethrow_exception(failure);
    co_await async_publish_export(state, job, own, bytes);
}

} // namespace pgexport::engine::detail
