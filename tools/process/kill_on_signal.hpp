// Children SIGKILLed when the harness is interrupted, so that a harness stopped by Ctrl-C, a
// timeout or a hang-up leaves none of its processes behind.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>

namespace ringpipe::process {

// The signals that interrupt a harness.
inline constexpr std::array<int, 4> kInterruptSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// How many children can be watched at once.
inline constexpr int kMaxWatchedChildren = 1024;

// Installs handlers for kInterruptSignals that SIGKILL every watched child, then let this
// process die of the signal as it would have without them.
void kill_children_on_signal();

// Watches a child; false if kMaxWatchedChildren are watched already.
bool watch_child(pid_t pid);

// Stops watching a child, once reaped: its pid may soon name another process.
void forget_child(pid_t pid);

// Stops watching every child. Async-signal-safe: a new child calls it, so that it never kills
// its siblings.
void forget_all_children();

}  // namespace ringpipe::process
