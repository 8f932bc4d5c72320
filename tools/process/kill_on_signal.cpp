// Children SIGKILLed when the harness is interrupted.
#include "kill_on_signal.hpp"

#include <signal.h>

namespace ringpipe::process {
namespace {

// Read by the handler, so plain sig_atomic_t words: a slot is a watched pid, or 0 once free.
volatile sig_atomic_t g_watched_count = 0;
volatile sig_atomic_t g_watched[kMaxWatchedChildren];

void kill_watched_and_die(int signal) {
  for (sig_atomic_t i = 0; i < g_watched_count; ++i) {
    if (g_watched[i] > 0) ::kill(g_watched[i], SIGKILL);
  }
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

}  // namespace

void kill_children_on_signal() {
  for (const int signal : kInterruptSignals) ::signal(signal, kill_watched_and_die);
}

bool watch_child(pid_t pid) {
  for (sig_atomic_t i = 0; i < g_watched_count; ++i) {
    if (g_watched[i] == 0) {
      g_watched[i] = pid;
      return true;
    }
  }
  if (g_watched_count == kMaxWatchedChildren) return false;
  // The slot is filled before the count covers it, so the handler never sees a stale pid.
  g_watched[g_watched_count] = pid;
  g_watched_count = g_watched_count + 1;
  return true;
}

void forget_child(pid_t pid) {
  for (sig_atomic_t i = 0; i < g_watched_count; ++i) {
    if (g_watched[i] == pid) g_watched[i] = 0;
  }
}

void forget_all_children() { g_watched_count = 0; }

}  // namespace ringpipe::process
