// Test helper: events between the processes of one test. A rank marks that something happened
// ("closed its ring", "has its verdict"); another process waits for that mark, or for the exit
// of the process that made it, with a deadline, instead of sleeping until it has "surely"
// happened.
#pragma once

#include "multiproc.hpp"

#include <chrono>
#include <string>

namespace ringpipe::test {

// One directory of marks per test: made by the test process (and removed with this object),
// found by its ranks in the environment once share_with() was applied to their SpawnOptions.
// Construct it before spawn_ranks(), so that the rank processes construct theirs too.
class RankEvents {
 public:
  RankEvents();
  RankEvents(const RankEvents&) = delete;
  RankEvents& operator=(const RankEvents&) = delete;
  ~RankEvents();

  // Passes the directory to every rank of `options` (its own customize still runs).
  void share_with(SpawnOptions& options) const;

  // Records that `event` happened in this process; a second mark of the same event is an error.
  void mark(const std::string& event) const;
  // True once `event` was marked; false if `timeout` passed first.
  [[nodiscard]] bool wait_for(const std::string& event, std::chrono::milliseconds timeout) const;
  // True once the process that marked `event` has exited (its sockets closed by the kernel);
  // false if `timeout` passed first, whether waiting for the mark or for the exit.
  [[nodiscard]] bool wait_for_exit_of(const std::string& event,
                                      std::chrono::milliseconds timeout) const;

 private:
  [[nodiscard]] std::string path_of(const std::string& event) const;

  std::string directory_;
  bool owner_ = false;
};

}  // namespace ringpipe::test
