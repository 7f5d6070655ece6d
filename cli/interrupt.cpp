#include "interrupt.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <thread>
#include <unistd.h>

namespace pgexport::cli {

namespace {

std::atomic<bool> got_signal{false};
int wake_pipe[2] = {-1, -1}; // the signal handler writes a byte, so a wait wakes at once

extern "C" void on_signal(int) {
    got_signal = true;
    if (wake_pipe[1] >= 0) {
        const int saved = errno;
        [[maybe_unused]] auto n = ::write(wake_pipe[1], "", 1);
        errno = saved;
    }
}

} // namespace

void install_interrupt_handlers() {
    if (wake_pipe[0] < 0 && ::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        wake_pipe[0] = wake_pipe[1] = -1; // no pipe: waits still end, at their timeout
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() {
    return got_signal;
}

int interrupt_fd() {
    return wake_pipe[0];
}

void interruptible_sleep(std::chrono::milliseconds duration) {
    if (got_signal)
        return;
    if (wake_pipe[0] < 0) {
        std::this_thread::sleep_for(duration);
        return;
    }
    pollfd fd{wake_pipe[0], POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(duration.count()));
}

} // namespace pgexport::cli
