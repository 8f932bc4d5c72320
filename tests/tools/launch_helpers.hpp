// Test helpers of the ringpipe-run tests: run the real launcher with a deadline and capture what
// it printed, parse what ranks printed, and watch processes go away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ringpipe::test {

struct LaunchResult {
  int exit_code = -1;  // Exit status, or 128 + signal number.
  bool timed_out = false;
  std::string out;
  std::string err;
  double elapsed_s = 0;
};

struct LaunchOptions {
  std::vector<std::pair<std::string, std::string>> set_env;
  std::chrono::milliseconds deadline = std::chrono::seconds(20);
  // Called after each read with the launcher's pid and its stdout so far, so a test can act
  // (e.g. signal the launcher) once the ranks report that they are ready.
  std::function<void(pid_t, const std::string&)> on_output;
};

// Runs ringpipe-run with args; never blocks past options.deadline (the launcher is then
// SIGKILLed and timed_out is set).
LaunchResult launch(const std::vector<std::string>& args, const LaunchOptions& options = {});

// Runs `sh -c script` under ringpipe-run with launcher_args before it.
LaunchResult launch_sh(std::vector<std::string> launcher_args, const std::string& script,
                       const LaunchOptions& options = {});

std::vector<std::string> lines_of(const std::string& text);

// "[3] key=value key=value" lines per rank, from ranks that print one such line each.
std::map<int, std::map<std::string, std::string>> parse_rank_fields(const std::string& out);

// The path of the running executable.
std::string self_exe();

// True once pid no longer exists (or is a zombie waiting for a reaper outside our control).
bool process_gone(pid_t pid);

// True once process_gone(pid), polled for up to 3 s.
bool eventually_gone(pid_t pid);

}  // namespace ringpipe::test
