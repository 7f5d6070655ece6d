#include "queue/job_lookup.hpp"

#include "policy/sweep_policy.hpp"

#include <algorithm>

namespace asio = boost::asio;

namespace pgexport::engine::detail {

asio::awaitable<result<job_info>> job_lookup::status(const std::string& id, const owner_filter& owner) {
    // Other instances' running jobs come from the table, at most a checkpoint behind. An ended job can
    // still expire or be deleted by any instance, so memory answers for it only for a second after it
    // was read, or while the database is away.
    std::optional<job_info> info = running_here(id);
    if (!info && !state_.started)
        co_return problem{errc::unavailable, "the server is starting: the database has not been reached yet"};
    if (!info)
        if (const job_info* fresh = state_.fresh_ended(id))
            info = *fresh;
    if (!info) {
        auto get = [id, tables = state_.tables()](job_repository& r) { return r.get(id, tables); };
        std::optional<stored_job> job;
        bool away = false;
        try {
            job = co_await state_.on_reads(std::move(get));
        } catch (const unavailable_error&) {
            if (!state_.ended.contains(id))
                throw;
            away = true;
        }
        if (away) {
            info = state_.ended.at(id);
        } else if (job) {
            info = std::move(job->info);
            state_.remember_if_ended(*info);
            apply_live(*info);
        } else {
            state_.forget(id);
        }
    }
    if (!info || (owner && info->owner != owner))
        co_return problem{errc::not_found, "no export job " + id};
    co_return with_expiry(*info);
}

asio::awaitable<job_list> job_lookup::list(owner_filter owner, int limit) {
    const auto key = std::make_pair(owner, limit);
    auto& slot = lists_[key];
    if (!slot)
        slot = std::make_shared<coalescer<jobs>>(state_.executor);
    const std::shared_ptr<coalescer<jobs>> shared = slot; // the map may drop it while this waits
    auto fetch = [this, owner, limit] { return fetch_list(owner, limit); };
    job_list listed = co_await shared->async_get(std::move(fetch));
    if (auto it = lists_.find(key); it != lists_.end() && it->second == shared && shared->idle())
        lists_.erase(it);
    co_return listed;
}

asio::awaitable<job_lookup::jobs> job_lookup::fetch_list(owner_filter owner, int limit) {
    auto list = [owner, limit, tables = state_.tables()](job_repository& r) { return r.list(owner, tables, limit); };
    auto stored = co_await state_.on_reads(std::move(list));
    jobs infos;
    infos.reserve(stored.size());
    for (auto& j : stored) {
        apply_live(j.info);
        infos.push_back(std::move(with_expiry(j.info)));
    }
    co_return infos;
}

std::optional<job_info> job_lookup::running_here(const std::string& id) const {
    auto it = state_.running.find(id);
    if (it == state_.running.end() || it->second->cancel_requested || it->second->lease_lost)
        return std::nullopt;
    const running_job& j = *it->second;
    job_info info = j.job.info;
    info.status = job_status::running;
    info.last_processed_id = j.last_id;
    info.rows_exported = std::max(j.rows, j.live_rows);
    info.bytes_written = std::max(j.bytes, j.live_bytes);
    info.attempts = j.attempts;
    info.instance = state_.config.instance_id;
    info.waiting = j.waiting;
    info.throttled = j.throttled;
    return info;
}

void job_lookup::apply_live(job_info& info) const {
    auto it = state_.running.find(info.id);
    if (it == state_.running.end() || info.status != job_status::running)
        return;
    info.rows_exported = std::max(info.rows_exported, it->second->live_rows);
    info.bytes_written = std::max(info.bytes_written, it->second->live_bytes);
    if (it->second->last_id)
        info.last_processed_id = it->second->last_id;
    info.waiting = it->second->waiting;
    info.throttled = it->second->throttled;
}

job_info& job_lookup::with_expiry(job_info& info) const {
    info.expires_at = expiry_of(info, state_.config.retention);
    return info;
}

} // namespace pgexport::engine::detail
