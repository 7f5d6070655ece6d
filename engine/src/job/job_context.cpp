#include "job/job_context.hpp"

#include <pgexport/log.hpp>

#include <algorithm>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

asio::awaitable<bool> job_fence::async_renew() {
    const auto sent = clock::now();
    auto renew = [id = id_, owner = owner_, token = token_](job_repository& r) { return r.renew(id, owner, token); };
    const lease_state found = co_await store_.on_leases(std::move(renew));
    co_return answered(found, sent);
}

bool job_fence::answered(lease_state found, clock::time_point sent) {
    const stop_cause before = stop_.cause();
    const lease_verdict v = tracker_.answered(found, sent);
    if (v == lease_verdict::cancelled) {
        stop_.request(stop_cause::cancelled);
        if (before != stop_cause::cancelled)
            log_event("info", "job_cancel_noticed", {{"job", id_}, {"token", token_}});
    } else if (v == lease_verdict::lost) {
        stop_.request(stop_cause::lease_lost);
        if (before != stop_cause::lease_lost)
            log_event("warning", "lease_lost", {{"job", id_}, {"token", token_}});
    }
    return v == lease_verdict::held;
}

void job_slices::load(const std::vector<slice_state>& recorded) {
    held = recorded;
    sent = recorded;
    held_version.assign(recorded.size(), 0);
    sent_version.assign(recorded.size(), 0);
    live_bytes.assign(recorded.size(), 0);
    unrecorded.clear();
}

void job_slices::on_held(const std::vector<slice_state>& slices, const std::vector<std::uint64_t>& versions) {
    for (std::size_t k = 0; k < held.size() && k < slices.size(); ++k)
        if (versions[k] > held_version[k]) {
            held[k] = slices[k];
            held_version[k] = versions[k];
        }
    std::erase_if(unrecorded, [&](const auto& batch) {
        const auto k = static_cast<std::size_t>(batch.second.file);
        return k < versions.size() && batch.first <= versions[k];
    });
}

std::vector<row_group_batch> job_slices::send_row_groups(std::size_t slice, row_group_batch groups) {
    if (!groups.groups.empty())
        unrecorded.emplace_back(sent_version.at(slice), std::move(groups));
    std::vector<row_group_batch> all;
    for (const auto& batch : unrecorded)
        all.push_back(batch.second);
    return all;
}

job_context::job_context(stored_job claimed, job_store& store, std::string owner,
                         std::chrono::milliseconds lease, job_fence::clock::time_point claimed_at)
    : job(std::move(claimed)),
      fence(store, job.info.id, std::move(owner), job.lease_token, lease, claimed_at, stop) {
    const job_info& info = job.info;
    progress.last_id = info.last_processed_id;
    progress.rows = info.rows_exported;
    progress.bytes = info.bytes_written;
    progress.attempts = info.attempts;
    if (parallel())
        slices.load(job.slices);
    snapshot.recorded = job.snapshot;
}

void job_context::set_live_bytes(std::optional<std::size_t> slice, std::int64_t written) {
    if (!slice) {
        progress.live_bytes = written;
        return;
    }
    slices.live_bytes.at(*slice) = written;
    std::int64_t sum = 0;
    for (const auto b : slices.live_bytes)
        sum += b;
    progress.live_bytes = sum;
}

job_info job_context::live_info(const std::string& instance) const {
    job_info info = job.info;
    info.status = job_status::running;
    info.last_processed_id = progress.last_id;
    info.rows_exported = std::max(progress.rows, progress.live_rows);
    info.bytes_written = std::max(progress.bytes, progress.live_bytes);
    info.attempts = progress.attempts;
    info.instance = instance;
    info.waiting = waits.waiting;
    info.throttled = waits.throttled;
    return info;
}

void job_context::apply_live(job_info& info) const {
    if (info.status != job_status::running)
        return;
    info.rows_exported = std::max(info.rows_exported, progress.live_rows);
    info.bytes_written = std::max(info.bytes_written, progress.live_bytes);
    if (progress.last_id)
        info.last_processed_id = progress.last_id;
    info.waiting = waits.waiting;
    info.throttled = waits.throttled;
}

} // namespace pgexport::engine::detail
