#pragma once
// How the API sees jobs: status and lists. Memory answers where this instance knows better than the
// table (the jobs it runs, with live progress; an ended job read a moment ago); the job store's read
// connection answers the rest, so a burst of lists never waits behind, nor delays, a checkpoint.
// Concurrent identical lists share one query (coalescer).

#include "util/coalescer.hpp"
#include "runtime/engine_state.hpp"

#include <pgexport/engine.hpp>
#include <pgexport/error.hpp>
#include <pgexport/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgexport::engine::detail {

class job_lookup {
public:
    explicit job_lookup(engine_state& state) : state_(state) {}

    // `id` is a normalized job id. not_found also for another owner's job.
    boost::asio::awaitable<result<job_info>> status(const std::string& id, const owner_filter& owner);
    // The newest `limit` jobs of the served tables, of `owner` when given, with live progress as of the
    // end of the query. Shared by the callers of one round.
    boost::asio::awaitable<job_list> list(owner_filter owner, int limit);

    // The job as this process knows it without asking the database, or nullopt: the ones it runs, with
    // live progress. Not one that is stopping because it was cancelled or taken over: its record says
    // what it is now.
    std::optional<job_info> running_here(const std::string& id) const;
    // A job's record with the progress this instance made since its last checkpoint, when it runs here.
    void apply_live(job_info& info) const;
    // The job as the API shows it: with its expiry (finished_at + the retention, once it has ended).
    job_info& with_expiry(job_info& info) const;

private:
    using jobs = std::vector<job_info>;
    boost::asio::awaitable<jobs> fetch_list(owner_filter owner, int limit);

    engine_state& state_;
    std::map<std::pair<owner_filter, int>, std::shared_ptr<coalescer<jobs>>> lists_;
};

} // namespace pgexport::engine::detail
