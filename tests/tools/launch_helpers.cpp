// Test helpers of the ringpipe-run tests.
#include "launch_helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <thread>

#ifndef RINGPIPE_RUN_PATH
#error "RINGPIPE_RUN_PATH must name the ringpipe-run executable"
#endif

extern char** environ;

namespace ringpipe::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::vector<std::string> child_environment(const LaunchOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    const std::string_view name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [key, value] : options.set_env) replaced |= name == key;
    if (!replaced) env.emplace_back(text);
  }
  for (const auto& [key, value] : options.set_env) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> as_argv(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

LaunchResult launch(const std::vector<std::string>& args, const LaunchOptions& options) {
  std::vector<std::string> argv_strings{RINGPIPE_RUN_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv = as_argv(argv_strings);
  std::vector<std::string> env_strings = child_environment(options);
  std::vector<char*> envp = as_argv(env_strings);

  LaunchResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(126);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }

  std::vector<std::pair<int, std::string*>> streams{{out_pipe[0], &result.out},
                                                    {err_pipe[0], &result.err}};
  bool reaped = false;
  int status = 0;
  const auto deadline = start + options.deadline;
  while (!reaped || !streams.empty()) {
    const auto now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    std::vector<pollfd> fds;
    for (const auto& stream : streams) fds.push_back({stream.first, POLLIN, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        streams[i].second->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        streams.erase(streams.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (options.on_output) options.on_output(pid, result.out);
    if (!reaped) reaped = ::waitpid(pid, &status, WNOHANG) == pid;
  }
  for (const auto& stream : streams) ::close(stream.first);

  if (!reaped) {
    ::kill(pid, SIGKILL);
    // SIGKILL cannot be ignored, so this wait is short; it is still bounded.
    for (int i = 0; i < 500 && !reaped; ++i) {
      reaped = ::waitpid(pid, &status, WNOHANG) == pid;
      if (!reaped) std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "ringpipe-run did not exit in time; stdout:\n"
                  << result.out << "\nstderr:\n"
                  << result.err;
  }
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (reaped) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return result;
}

LaunchResult launch_sh(std::vector<std::string> launcher_args, const std::string& script,
                       const LaunchOptions& options) {
  launcher_args.insert(launcher_args.end(), {"/bin/sh", "-c", script});
  return launch(launcher_args, options);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::map<int, std::map<std::string, std::string>> parse_rank_fields(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> ranks;
  for (const std::string& line : lines_of(out)) {
    if (line.size() < 3 || line[0] != '[') continue;
    const auto close = line.find("] ");
    if (close == std::string::npos) continue;
    auto& fields = ranks[std::stoi(line.substr(1, close - 1))];
    std::istringstream words(line.substr(close + 2));
    for (std::string word; words >> word;) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return ranks;
}

std::string self_exe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = content.rfind(')');
  return paren != std::string::npos && paren + 2 < content.size() && content[paren + 2] == 'Z';
}

bool eventually_gone(pid_t pid) {
  const auto deadline = Clock::now() + 3s;
  while (Clock::now() < deadline) {
    if (process_gone(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace ringpipe::test
