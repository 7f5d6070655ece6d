#pragma once
// Why a running job stops, and the one signal that stops it. Every wait of the job's work (an attempt and
// everything it awaits: the database's socket, the throttle's and the free-space guard's timers, a
// parallel job's slices, the wait between attempts) is bound to this signal's slot, directly or through
// the coroutine that awaits it; request() records the cause and cancels that wait (terminal
// cancellation: it ends with operation_aborted). The work looks at the cause at the top of each loop, so a
// stop that came while it waited for something that cannot be cancelled (a statement on the job store's
// thread, a write on the file pool) is seen there. The runner reads the cause once, at the end: a cancel,
// a lost lease and a shutdown are one mechanism with three causes, not flags polled in many places.

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <string_view>

namespace pgexport::engine::detail {

// Ordered by strength: a stronger cause replaces a weaker one, never the other way round.
enum class stop_cause {
    none,
    unproven,   // the lease could not be confirmed for most of its length (the job store out of reach): the
                // job stops touching files before the lease can have run out, and goes on once it is proven
    shutdown,   // the engine shuts down: the job stays resumable, its lease is given back
    lease_lost, // another instance holds the job now: touch nothing
    cancelled,  // the job was cancelled: its files go
};

std::string_view to_string(stop_cause c);

class job_stop {
public:
    // The slot a wait of the job's work is bound to.
    boost::asio::cancellation_slot slot() { return signal_.slot(); }

    // Asks the job to stop for `cause` (a weaker one than the current is ignored) and cancels the wait
    // the job is in.
    void request(stop_cause cause) {
        if (cause <= cause_)
            return;
        cause_ = cause;
        signal_.emit(boost::asio::cancellation_type::terminal);
    }
    // The lease was proven again after `unproven`: the job may go on. No effect on a final cause.
    void resume() {
        if (cause_ == stop_cause::unproven)
            cause_ = stop_cause::none;
    }

    stop_cause cause() const noexcept { return cause_; }
    bool requested() const noexcept { return cause_ != stop_cause::none; }
    // The job ends here for good (it may run again elsewhere, or on the next start).
    bool final() const noexcept { return cause_ >= stop_cause::shutdown; }

    // Ends the current piece of work when a stop was requested: throws operation_aborted, as a wait
    // cancelled by the signal does.
    void throw_if_requested() const {
        if (requested())
            throw boost::system::system_error(boost::asio::error::operation_aborted);
    }

private:
    boost::asio::cancellation_signal signal_;
    stop_cause cause_ = stop_cause::none;
};

inline std::string_view to_string(stop_cause c) {
    switch (c) {
    case stop_cause::none: return "none";
    case stop_cause::unproven: return "lease_unproven";
    case stop_cause::shutdown: return "shutdown";
    case stop_cause::lease_lost: return "lease_lost";
    case stop_cause::cancelled: return "cancelled";
    }
    return "none";
}

} // namespace pgexport::engine::detail
