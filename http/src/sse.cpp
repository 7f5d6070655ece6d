#include "sse.hpp"

#include <algorithm>

namespace pgexport::http {

std::string sse_event(std::string_view name, std::string_view data) {
    std::string out = "event: ";
    out += name;
    out += '\n';
    for (;;) {
        const auto end = data.find_first_of("\r\n");
        out += "data: ";
        out += data.substr(0, end);
        out += '\n';
        if (end == std::string_view::npos)
            break;
        const bool crlf = data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n';
        data.remove_prefix(end + (crlf ? 2 : 1));
    }
    out += '\n';
    return out;
}

std::string sse_comment(std::string_view text) {
    return ": " + std::string(text) + "\n\n";
}

bool is_final(engine::job_status status) {
    return status != engine::job_status::queued && status != engine::job_status::running;
}

event_pacer::event_pacer(clock::time_point start, event_pacing pacing)
    : pacing_(pacing), last_write_(start), last_event_(start) {}

event_pacer::send event_pacer::step(clock::time_point now, std::optional<engine::job_status> status,
                                    std::string_view data) {
    auto event = [&](send what) {
        last_write_ = last_event_ = now;
        last_status_ = status;
        last_data_ = data;
        pending_ = false;
        return what;
    };
    if (status && is_final(*status))
        return event(send::final_event);
    if (status && (!last_status_ || *status != *last_status_))
        return event(send::progress);
    if (status) {
        const auto since = now - last_event_;
        const bool changed = data != last_data_;
        if (changed && since < pacing_.min_gap)
            pending_ = true;
        else if (changed || (*status == engine::job_status::running && since >= pacing_.progress_every))
            return event(send::progress);
    }
    if (now - last_write_ >= pacing_.ping_every) {
        last_write_ = now;
        return send::ping;
    }
    return send::nothing;
}

event_pacer::clock::duration event_pacer::next_look(clock::time_point now) const {
    // Once a second at most between looks: that is how a job another instance runs is followed. A queued
    // job changes only by a change of state, which wakes the stream: its looks are the fallback.
    clock::duration wait = last_status_ == engine::job_status::queued ? clock::duration(pacing_.queued_look_every)
                                                                      : clock::duration(pacing_.progress_every);
    if (last_status_ == engine::job_status::running)
        wait = std::min<clock::duration>(wait, last_event_ + pacing_.progress_every - now);
    if (pending_)
        wait = std::min<clock::duration>(wait, last_event_ + pacing_.min_gap - now);
    wait = std::min<clock::duration>(wait, last_write_ + pacing_.ping_every - now);
    return std::max<clock::duration>(wait, clock::duration::zero());
}

} // namespace pgexport::http
