#include "export/slice_runner.hpp"

#include "export/parquet_stream.hpp"
#include "export/publisher.hpp"
#include "export/snapshot_session.hpp"
#include "export/stream.hpp"
#include "files/file_writer.hpp"
#include "policy/job_policy.hpp"
#include "storage/export_storage.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

// One slice, a child task of the attempt.
asio::awaitable<std::int64_t> run_slice(engine_state& state, std::shared_ptr<job_context> job, fs::path path,
                                        std::int64_t bytes, std::size_t slice) {
    co_await asio::this_coro::throw_if_cancelled(false); // as the attempt: its loops look at the stop
    co_return co_await async_stream(state, *job, std::move(path), bytes, slice, nullptr);
}

// Runs the slices that are not done yet side by side, each from its checkpoint in its file; the first to
// fail cancels the others, and its failure is the attempt's. A stop of the job cancels them all.
asio::awaitable<void> run_slices(engine_state& state, std::shared_ptr<job_context> job,
                                 const std::vector<fs::path>& files) {
    using slice_task = decltype(asio::co_spawn(state.executor, run_slice(state, job, {}, 0, 0), asio::deferred));
    std::vector<slice_task> tasks;
    for (std::size_t k = 0; k < files.size(); ++k)
        if (!job->slices.held[k].done)
            tasks.push_back(asio::co_spawn(state.executor, run_slice(state, job, files[k], job->slices.held[k].bytes, k),
                                           asio::deferred));
    if (tasks.empty())
        co_return;
    auto group = asio::experimental::make_parallel_group(std::move(tasks));
    auto [order, failures, lengths] =
        co_await group.async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
    (void)lengths; // each slice's length is in its checkpoint
    // The first to end with an error is the cause; the others ended because it cancelled them.
    for (const std::size_t i : order)
        if (failures[i])
            std::rethrow_exception(failures[i]);
}

} // namespace

asio::awaitable<void> export_slices(engine_state& state, std::shared_ptr<job_context> ctx) {
    job_context& job = *ctx;
    const std::string& id = job.id();
    const std::int64_t token = job.token();
    const std::size_t n = job.slices.held.size();
    const fs::path assembled = state.files.part(id, token);
    const fs::path final = state.files.final(id);
    if (all_done(job.slices.held) && file_writer::length_of(final) >= 0) {
        // Published by a version that recorded no `publishing`, its completion not recorded.
        co_await async_complete(state, job, final.string(), file_writer::length_of(final));
        co_return;
    }
    // Object storage: a parallel job's file is uploaded once assembled, after the parts an earlier attempt
    // sent of it (its length is not known before).
    const stored_prefix stored = co_await state.storage->async_prepare(job, -1, false);
    if (stored.published) {
        co_await async_complete(state, job, *stored.published, stored.bytes);
        co_return;
    }
    std::vector<fs::path> own;
    for (std::size_t k = 0; k < n; ++k)
        own.push_back(state.files.slice(id, token, k));
    // Each slice from its checkpoint, in the file the checkpoint names (copied into this lease's own after
    // a takeover, as for one stream); a slice whose bytes are gone starts over alone.
    auto prepare = [&files = state.files, id, own, source = job.job.part_token, slices = job.slices.held] {
        std::vector<resume_plan> plans;
        for (std::size_t k = 0; k < slices.size(); ++k) {
            const fs::path from = source ? files.slice(id, *source, k) : own[k];
            plans.push_back(plan_resume({slices[k].bytes}, {file_writer::length_of(from), -1}));
            if (plans.back().action == resume_action::resume && from != own[k])
                copy_prefix(from, own[k], slices[k].bytes);
        }
        return plans;
    };
    const auto plans = co_await async_offload(state.file_pool, std::move(prepare));
    for (std::size_t k = 0; k < n; ++k) {
        if (plans[k].action != resume_action::restart)
            continue;
        log_event("warning", "job_slice_restarted", {{"job", id}, {"slice", k}, {"reason", plans[k].reason}});
        job.slices.held[k] = initial_states({job.slices.held[k].bounds}).front();
    }
    if (job.job.part_token && *job.job.part_token != token)
        log_event("info", "job_taken_over", {{"job", id}, {"bytes", job.progress.bytes}, {"token", token}, {"slices", n}});
    job.slices.sent = job.slices.held;
    const slice_totals start = totals_of(job.slices.held);
    job.progress.rows = start.rows;
    job.progress.bytes = start.bytes;
    job.progress.live_rows = start.rows;
    for (std::size_t k = 0; k < n; ++k)
        job.set_live_bytes(k, job.slices.held[k].bytes);

    co_await async_read_under_snapshot(state, job, run_slices(state, ctx, own));
    job.stop.throw_if_requested();
    if (!all_done(job.slices.held))
        throw std::logic_error("a parallel export ended with slices not done");

    std::int64_t total = 0;
    if (job.job.info.request.format == output_format::parquet) {
        total = co_await async_join_parquet_slices(state, job, own, assembled);
    } else {
        std::vector<file_part> parts;
        for (std::size_t k = 0; k < n; ++k) {
            parts.push_back({own[k], 0, job.slices.held[k].bytes});
            total += job.slices.held[k].bytes;
        }
        auto assemble = [parts, assembled] { concatenate(parts, assembled); };
        co_await async_offload(state.file_pool, std::move(assemble));
    }
    co_await async_publish_export(state, job, assembled, total);
}

} // namespace pgexport::engine::detail
