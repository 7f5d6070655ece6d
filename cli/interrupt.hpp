#pragma once
// Ctrl-C (SIGINT) and SIGTERM for the `export` client: a flag that the flow looks at between steps, and a
// descriptor that becomes readable at once, so that a wait (a sleep, a socket poll) ends with the signal.

#include <chrono>

namespace pgexport::cli {

// Installs the handlers (once). A blocking socket call goes on after the signal (SA_RESTART); waits that
// poll interrupt_fd() end at once.
void install_interrupt_handlers();

// True once SIGINT or SIGTERM has arrived.
bool interrupted();

// Readable once a signal has arrived; -1 when no such descriptor could be made (waits then end at their
// timeout).
int interrupt_fd();

// Sleeps for `duration` or until a signal arrives, whichever comes first.
void interruptible_sleep(std::chrono::milliseconds duration);

} // namespace pgexport::cli
