// Child processes of a harness: started with everything prepared before fork, signalled, and
// reaped with a deadline.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ringpipe::process {

// A program and its whole environment as exec wants them, built before fork: the child of a
// process that may run other threads (UCX's, for one) must not allocate.
class Command {
 public:
  Command(std::vector<std::string> argv, std::vector<std::string> env);
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  [[nodiscard]] const char* program() const { return argv_[0]; }

  // Replaces the process with the program, searching PATH for a name without a slash as a shell
  // would. Returns only if that failed, with errno set. Safe between fork and exec.
  void exec() const;

 private:
  std::vector<std::string> strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

// What the child does between fork and its body, in the order of the fields; all of it is
// async-signal-safe. By default nothing changes.
struct ChildSetup {
  // Leads a process group of its own (id = its pid), so that it and whatever it starts can be
  // signalled together. Also set from the parent, so a kill(-pid) sent before the child runs
  // cannot miss the group.
  bool own_process_group = false;
  // Dies of SIGKILL when the process that forked it ends, even if that one was killed before it
  // could kill its children; a child that finds its parent already gone exits with this status.
  std::optional<int> die_with_parent;
  // Signals whose handlers go back to the default.
  std::vector<int> default_signals;
  const sigset_t* signal_mask = nullptr;    // set if not null
  const rlimit* open_file_limit = nullptr;  // set if not null
  bool stdin_from_dev_null = false;
  int stdout_fd = -1;  // moved onto the standard descriptor if not -1
  int stderr_fd = -1;
  // Descriptors the child keeps across exec (their close-on-exec flag is cleared).
  std::vector<int> inherited_fds;
};

// Forks a child that applies `setup`, stops watching the children of kill_children_on_signal()
// (it must never kill its siblings) and runs `body`, which must not return (it exits with 127
// if it does). Returns the child's pid, or -1 with errno set if fork failed.
pid_t spawn(const ChildSetup& setup, const std::function<void()>& body);

// A started child, SIGKILLed and reaped when dropped unless it was reaped or released before.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid), running_(pid > 0) {}
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Neither reaped nor released yet.
  [[nodiscard]] bool running() const { return running_; }

  // Sends `signal` while the child is not reaped: afterwards its pid may name another process.
  void signal(int signal) const;

  // Its wait status if it has ended (it is then reaped, and no longer watched by
  // kill_children_on_signal), nullopt while it runs.
  std::optional<int> try_reap();

  // Checks every `interval` until the child has ended or `deadline` passed, at least once.
  // True once it is reaped.
  bool reap_until(std::chrono::steady_clock::time_point deadline,
                  std::chrono::microseconds interval);

  // Stops looking after the child, which stays a zombie once it ends.
  void release();

 private:
  pid_t pid_ = -1;
  bool running_ = false;
};

}  // namespace ringpipe::process
