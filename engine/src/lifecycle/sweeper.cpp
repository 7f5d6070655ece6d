#include "lifecycle/sweeper.hpp"

#include "policy/sweep_policy.hpp"

#include <pgexport/log.hpp>

#include <boost/asio/co_spawn.hpp>

#include <set>

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace pgexport::engine::detail {

namespace {

// Rows per statement and ids per look-up: each statement stays short, so the checkpoints and lease
// renewals that share the queue thread are never held up for long.
constexpr int batch_size = 500;

struct found_file {
    fs::path path;
    export_file_name name;
};

// The files of ours in `dir` (regular files named as the engine names them). Blocking.
std::vector<found_file> list_export_files(const fs::path& dir) {
    std::vector<found_file> files;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        if (!it->is_regular_file(type_ec) || it->is_symlink(type_ec))
            continue;
        if (auto name = parse_export_file_name(it->path().filename().string()))
            files.push_back({it->path(), std::move(*name)});
    }
    if (ec)
        throw std::system_error(ec, "cannot list the data directory " + dir.string());
    return files;
}

// Removes each path; how many were there to remove. Blocking.
std::int64_t remove_files(const std::vector<fs::path>& paths) {
    std::int64_t removed = 0;
    for (const auto& path : paths) {
        std::error_code ec;
        if (fs::remove(path, ec))
            ++removed;
        else if (ec)
            log_event("warning", "sweep_remove_failed", {{"path", path.string()}, {"error", ec.message()}});
    }
    return removed;
}

} // namespace

void sweeper::start() {
    stopped_ = std::make_shared<event>(state_.executor);
    asio::co_spawn(state_.executor, loop(), [stopped = stopped_](std::exception_ptr e) {
        if (e)
            log_event("error", "sweeper_crashed", {});
        stopped->set();
    });
}

asio::awaitable<void> sweeper::async_stop() {
    stopping_ = true;
    timer_.cancel();
    if (stopped_)
        co_await stopped_->async_wait();
}

asio::awaitable<void> sweeper::loop() {
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    while (!stopping_ && !state_.stopping) {
        try {
            co_await async_run_once();
        } catch (const unavailable_error& e) {
            // The database is away: the next pass tries again; /healthz is the one to report it.
            log_event("info", "sweep_postponed", {{"error", e.what()}});
        } catch (const std::exception& e) {
            log_event("error", "sweep_failed", {{"error", e.what()}});
        }
        if (stopping_ || state_.stopping)
            break;
        const auto interval = state_.config.sweep_interval.count() > 0
                                  ? state_.config.sweep_interval
                                  : sweep_interval(state_.config.retention, jitter(state_.random));
        timer_.expires_after(interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<sweep_report> sweeper::async_run_once() {
    sweep_report report;
    co_await async_expire(report);
    co_await async_remove_records(report);
    co_await async_remove_orphans(report);
    ++state_.stats.sweeps;
    if (report.jobs_expired || report.records_removed || report.files_removed)
        log_event("info", "sweep",
                  {{"jobs_expired", report.jobs_expired},
                   {"records_removed", report.records_removed},
                   {"files_removed", report.files_removed}});
    co_return report;
}

asio::awaitable<void> sweeper::async_expire(sweep_report& report) {
    for (;;) {
        auto expire = [retention = state_.config.retention, tables = state_.tables()](job_repository& r) {
            return r.expire_completed(retention, tables, batch_size);
        };
        const std::vector<std::string> ids = co_await state_.on_jobs(std::move(expire));
        std::vector<fs::path> files;
        for (const std::string& id : ids) {
            state_.forget(id);
            files.push_back(state_.final_path(id));
            log_event("info", "job_expired", {{"job", id}});
        }
        report.jobs_expired += static_cast<std::int64_t>(ids.size());
        state_.stats.jobs_expired += static_cast<std::int64_t>(ids.size());
        // The record says expired first: a crash before the files go leaves orphans, which step 3 removes.
        auto remove = [files = std::move(files)] { return remove_files(files); };
        std::int64_t removed = co_await async_offload(state_.file_pool, std::move(remove));
        // In object storage, the objects too. Should the store be away, the pass stops here: the ids are
        // expired already, and the bucket's lifecycle rule is the backstop (docs/scaling.md).
        std::vector<std::string> objects = ids;
        const std::int64_t objects_removed = co_await state_.storage->async_remove(std::move(objects));
        removed += objects_removed;
        report.files_removed += removed;
        state_.stats.files_removed += removed;
        if (ids.size() < static_cast<std::size_t>(batch_size) || stopping_)
            co_return;
    }
}

asio::awaitable<void> sweeper::async_remove_records(sweep_report& report) {
    for (;;) {
        auto remove = [retention = state_.config.retention, tables = state_.tables()](job_repository& r) {
            return r.remove_ended(retention, tables, batch_size);
        };
        const std::vector<std::string> ids = co_await state_.on_jobs(std::move(remove));
        // Their leftover files, if any, are orphans now: step 3 removes them.
        for (const std::string& id : ids)
            state_.forget(id);
        report.records_removed += static_cast<std::int64_t>(ids.size());
        state_.stats.records_removed += static_cast<std::int64_t>(ids.size());
        if (ids.size() < static_cast<std::size_t>(batch_size) || stopping_)
            co_return;
    }
}

asio::awaitable<void> sweeper::async_remove_orphans(sweep_report& report) {
    // The listing comes first, the statuses after it: see is_orphan.
    auto list = [dir = state_.config.data_dir] { return list_export_files(dir); };
    const std::vector<found_file> files = co_await async_offload(state_.file_pool, std::move(list));
    std::set<std::string> unique_ids;
    for (const auto& f : files)
        unique_ids.insert(f.name.job_id);
    const std::vector<std::string> ids(unique_ids.begin(), unique_ids.end());
    std::map<std::string, job_status> statuses;
    for (std::size_t from = 0; from < ids.size() && !stopping_; from += batch_size) {
        const std::size_t to = std::min(ids.size(), from + batch_size);
        auto look_up = [batch = std::vector<std::string>(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                                         ids.begin() + static_cast<std::ptrdiff_t>(to))](
                           job_repository& r) { return r.statuses(batch); };
        auto found = co_await state_.on_jobs(std::move(look_up));
        statuses.merge(found);
    }
    if (stopping_)
        co_return;
    std::vector<fs::path> orphans;
    for (const auto& f : files) {
        const auto it = statuses.find(f.name.job_id);
        const std::optional<job_status> status =
            it == statuses.end() ? std::nullopt : std::optional<job_status>(it->second);
        if (is_orphan(f.name.kind, status)) {
            orphans.push_back(f.path);
            log_event("info", "orphan_file",
                      {{"file", f.path.filename().string()},
                       {"job_status", status ? std::string(to_string(*status)) : std::string("none")}});
        }
    }
    if (orphans.empty())
        co_return;
    auto remove = [orphans = std::move(orphans)] { return remove_files(orphans); };
    const std::int64_t removed = co_await async_offload(state_.file_pool, std::move(remove));
    report.files_removed += removed;
    state_.stats.files_removed += removed;
}

} // namespace pgexport::engine::detail
