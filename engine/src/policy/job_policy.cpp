#include "policy/job_policy.hpp"

#include <algorithm>
#include <cerrno>

namespace pgexport::engine::detail {

resume_plan plan_resume(const checkpoint_facts& checkpoint, const disk_facts& disk) {
    // The rename to the final name is the last step before the completion is recorded, and it happens
    // only once the partial file is gone into it: a final file without a partial one is finished.
    if (disk.part_bytes < 0 && disk.final_bytes >= 0) {
        if (disk.final_bytes >= checkpoint.bytes)
            return {resume_action::finish, ""};
        return {resume_action::restart, "finished file shorter than its checkpoint"};
    }
    if (checkpoint.bytes == 0)
        return {resume_action::start, ""};
    if (disk.part_bytes < 0)
        return {resume_action::restart, "partial file missing"};
    if (disk.part_bytes < checkpoint.bytes)
        return {resume_action::restart, "partial file shorter than checkpoint"};
    return {resume_action::resume, ""};
}

failure_class classify_sqlstate(std::string_view s) {
    if (s.empty())
        return failure_class::unavailable; // no answer: the connection failed or was lost
    if (s.starts_with("08"))             // connection exception
        return failure_class::unavailable;
    if (s == "57P01" || s == "57P02" || s == "57P03") // admin shutdown, crash shutdown, cannot connect now
        return failure_class::unavailable;
    if (s == "53300") // too many connections: the server is there but full for now
        return failure_class::unavailable;
    if (s.starts_with("53")) // insufficient resources: disk full, out of memory on the server
        return failure_class::transient;
    if (s == "40001" || s == "40P01") // serialization failure (a standby's conflict), deadlock
        return failure_class::transient;
    if (s == "57014") // canceled: the statement timeout, or a cancel request
        return failure_class::transient;
    return failure_class::permanent;
}

failure_class classify_errno(int error) {
    switch (error) {
    case EINTR:
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EBUSY:
        return failure_class::transient;
    case ENOSPC:
    case EDQUOT:
        return failure_class::no_space;
    default:
        return failure_class::permanent; // EFBIG, EROFS, EACCES, EIO, ...
    }
}

std::string_view to_string(failure_class c) {
    switch (c) {
    case failure_class::unavailable:
        return "unavailable";
    case failure_class::transient:
        return "transient";
    case failure_class::no_space:
        return "no_space";
    case failure_class::permanent:
        return "permanent";
    }
    return "permanent";
}

retry_decision decide_retry(const retry_policy& policy, failure_class failure, int consecutive, double jitter) {
    if (failure == failure_class::permanent)
        return {true, {}};
    if (failure == failure_class::transient && consecutive >= policy.max_transient_attempts)
        return {true, {}};
    const int doublings = std::clamp(consecutive - 1, 0, 20);
    auto delay = policy.base_delay * (std::int64_t{1} << doublings);
    delay = std::min(delay, policy.max_delay);
    jitter = std::clamp(jitter, 0.0, 1.0);
    delay -= std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * jitter / 4));
    return {false, delay};
}

std::string_view to_string(lease_verdict v) {
    switch (v) {
    case lease_verdict::held:
        return "held";
    case lease_verdict::unsure:
        return "unsure";
    case lease_verdict::cancelled:
        return "cancelled";
    case lease_verdict::lost:
        return "lost";
    }
    return "lost";
}

std::chrono::milliseconds lease_tracker::renewal_interval() const {
    return std::clamp(length_ / 3, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
}

lease_verdict lease_tracker::answered(lease_state found, clock::time_point sent_at) {
    if (ended_ != lease_verdict::held)
        return ended_; // final: a late `held` from before the end changes nothing
    switch (found) {
    case lease_state::held:
        confirmed_until_ = std::max(confirmed_until_, sent_at + length_);
        return lease_verdict::held;
    case lease_state::cancelled:
        ended_ = lease_verdict::cancelled;
        return ended_;
    case lease_state::lost:
        ended_ = lease_verdict::lost;
        return ended_;
    }
    return ended_;
}

lease_verdict lease_tracker::at(clock::time_point now) const {
    if (ended_ != lease_verdict::held)
        return ended_;
    return now < confirmed_until_ ? lease_verdict::held : lease_verdict::unsure;
}

} // namespace pgexport::engine::detail
