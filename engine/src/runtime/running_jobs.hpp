#pragma once
// The jobs this instance runs, by id: what status and lists read live progress from, what a cancel or a
// shutdown stops. An entry is the job's context while its runner runs; a job claimed again (after its
// lease ran out unrenewed) never replaces an entry still there, and an entry is removed only by the run
// that added it. Touched only on the engine's executor.

#include "job/job_context.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

namespace pgexport::engine::detail {

class running_jobs {
public:
    // Adds `job`; false when a run of the same job is still registered (it must end first).
    bool add(std::shared_ptr<job_context> job) { return jobs_.try_emplace(job->id(), std::move(job)).second; }
    // Removes `job`'s entry if it is still that run's.
    void remove(const std::shared_ptr<job_context>& job) {
        if (auto it = jobs_.find(job->id()); it != jobs_.end() && it->second == job)
            jobs_.erase(it);
    }
    std::shared_ptr<job_context> find(const std::string& id) const {
        auto it = jobs_.find(id);
        return it == jobs_.end() ? nullptr : it->second;
    }
    std::vector<std::string> ids() const {
        std::vector<std::string> out;
        for (const auto& [id, job] : jobs_)
            out.push_back(id);
        return out;
    }
    std::vector<std::shared_ptr<job_context>> all() const {
        std::vector<std::shared_ptr<job_context>> out;
        for (const auto& [id, job] : jobs_)
            out.push_back(job);
        return out;
    }
    std::size_t size() const { return jobs_.size(); }
    // How many of the jobs hold a snapshot here, and since when the one held longest.
    std::pair<std::size_t, std::optional<std::chrono::steady_clock::time_point>> snapshots_held() const {
        std::pair<std::size_t, std::optional<std::chrono::steady_clock::time_point>> held;
        for (const auto& [id, job] : jobs_)
            if (job->snapshot.held()) {
                ++held.first;
                held.second = std::min(held.second.value_or(job->snapshot.held_since), job->snapshot.held_since);
            }
        return held;
    }

private:
    std::map<std::string, std::shared_ptr<job_context>> jobs_;
};

} // namespace pgexport::engine::detail
