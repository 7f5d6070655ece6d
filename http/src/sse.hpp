#pragma once
// Server-Sent Events for GET /api/export/{id}/events: the event framing, and when the stream sends what.
// Pure: the caller passes the clock and the job's state.

#include <pgexport/job.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

// One event: "event: <name>\n", one "data: " line per line of `data` (split at \n, \r\n and \r, which
// a data line cannot hold), then a blank line. `name` must be a single line.
std::string sse_event(std::string_view name, std::string_view data);

// A comment line (": <text>\n\n"), which EventSource ignores: keeps idle connections and proxies open.
std::string sse_comment(std::string_view text);

// True once a job's run has ended: completed, failed, cancelled, expired (anything but queued, running).
bool is_final(engine::job_status status);

struct event_pacing {
    // A progress event at least this often while the job runs: under a second, with room for reading the
    // status (from the job store when another instance runs the job).
    std::chrono::milliseconds progress_every{900};
    // Progress that changes faster (a checkpoint per chunk) is sent at most this often; a change of
    // status always at once.
    std::chrono::milliseconds min_gap{200};
    // A comment when nothing was sent for this long (a queued job, the database away).
    std::chrono::milliseconds ping_every{15000};
    // A queued job is looked at again only this often: its claim (or cancel), by any instance, wakes the
    // stream at once (job_watch); this is the fallback should a notice be lost.
    std::chrono::milliseconds queued_look_every{15000};
};

// Decides, each time the stream looks at the job, whether to send a progress event, the final event, a
// ping or nothing, and how long to wait before looking again.
class event_pacer {
public:
    using clock = std::chrono::steady_clock;
    enum class send { nothing, progress, final_event, ping };

    explicit event_pacer(clock::time_point start, event_pacing pacing = {});

    // The job is `status` now with status JSON `data` (nullopt: it could not be read, e.g. the database
    // is away). The caller sends what this returns; the pacer counts it as sent.
    send step(clock::time_point now, std::optional<engine::job_status> status, std::string_view data);

    // How long to wait, from `now`, before the next look (unless the job is notified as changed first).
    clock::duration next_look(clock::time_point now) const;

private:
    event_pacing pacing_;
    clock::time_point last_write_;  // an event or a ping
    clock::time_point last_event_;
    std::optional<engine::job_status> last_status_; // nullopt before the first event
    std::string last_data_;
    bool pending_ = false; // a change not sent yet (too soon after the last event)
};

} // namespace pgexport::http
