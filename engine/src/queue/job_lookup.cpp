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
    // Not one that is stopping because it was cancelled or taken over: its record says what it is now.
    const auto job = state_.running.find(id);
    if (!job || job->stop.cause() == stop_cause::cancelled || job->stop.cause() == stop_cause::lease_lost)
        return std::nullopt;
    return job->live_info(state_.config.instance_id);
}

void job_lookup::apply_live(job_info& info) const {
    if (const auto job = state_.running.find(info.id))
        job->apply_live(info);
}

job_info& job_lookup::with_expiry(job_info& info) const {
    info.expires_at = expiry_of(info, state_.config.retention);
    return info;
}

} // namespace pgexport::engine::detail
