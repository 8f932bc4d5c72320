// Test fixture: runs a test body in N real rank processes on 127.0.0.1.
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <exception>
#include <iostream>
#include <random>
#include <sstream>

namespace ringpipe::test {
namespace {

constexpr const char* kChildVariable = "RINGPIPE_TEST_RANK_PROCESS";

using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1 with a kernel-chosen port.
int listen_on_free_port(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, SOMAXCONN) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error(std::string("test fixture cannot listen: ") + std::strerror(errno));
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::string current_test_filter() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

struct Child {
  int rank = 0;
  pid_t pid = -1;
  int output_fd = -1;
  RankResult result;
  bool exited = false;
};

// Everything exec needs, built before fork: the child of a process that may run UCX threads
// must not allocate.
struct ExecPlan {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan plan_exec(int rank, const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
  }
  for (const auto& [name, value] : overrides) env[name] = value;
  env[kChildVariable] = std::to_string(rank);

  ExecPlan plan;
  plan.strings = {"/proc/self/exe", "--gtest_filter=" + current_test_filter(), "--gtest_brief=1"};
  const std::size_t argc = plan.strings.size();
  for (const auto& [name, value] : env) plan.strings.push_back(name + "=" + value);
  for (std::size_t i = 0; i < plan.strings.size(); ++i) {
    (i < argc ? plan.argv : plan.envp).push_back(plan.strings[i].data());
  }
  plan.argv.push_back(nullptr);
  plan.envp.push_back(nullptr);
  return plan;
}

[[noreturn]] void exec_rank(const ExecPlan& plan, int listen_fd, int output_fd) {
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  if (listen_fd >= 0) {
    // The only descriptor a rank inherits on purpose: rank 0's rendezvous socket.
    const int flags = ::fcntl(listen_fd, F_GETFD);
    ::fcntl(listen_fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  static const char kMessage[] = "cannot exec the test binary\n";
  [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(127);
}

[[noreturn]] void run_as_rank(const std::function<void(int)>& body) {
  const int rank = std::atoi(std::getenv(kChildVariable));
  int code = 0;
  try {
    body(rank);
    code = ::testing::Test::HasFailure() ? 1 : 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "[rank %d] uncaught exception: %s\n", rank, error.what());
    code = 2;
  }
  std::fflush(stdout);
  std::fflush(stderr);
#if defined(__SANITIZE_ADDRESS__)
  // _exit skips LeakSanitizer's exit-time check; run it here, where the rank's ring is gone.
  if (__lsan_do_recoverable_leak_check() != 0 && code == 0) code = 3;
#endif
  ::_exit(code);
}

}  // namespace

bool is_rank_process() { return std::getenv(kChildVariable) != nullptr; }

std::vector<RankResult> spawn_ranks(int world_size, const std::function<void(int rank)>& body,
                                    const SpawnOptions& options) {
  if (is_rank_process()) run_as_rank(body);

  std::uint16_t port = 0;
  const int listen_fd = listen_on_free_port(port);
  if (options.on_listening) options.on_listening(port);
  std::vector<int> ranks = options.ranks;
  if (ranks.empty()) {
    for (int rank = 0; rank < world_size; ++rank) ranks.push_back(rank);
  }
  std::random_device random;
  const std::uint64_t job_id = (std::uint64_t{random()} << 32) | random();

  std::vector<Child> children;
  const auto start = Clock::now();
  for (const int rank : ranks) {
    std::map<std::string, std::string> env = {
        {"RINGPIPE_HEAD", "127.0.0.1"},
        {"RINGPIPE_PORT", std::to_string(port)},
        {"RINGPIPE_WORLD_SIZE", std::to_string(world_size)},
        {"RINGPIPE_RANK", std::to_string(rank)},
        {"RINGPIPE_LOCAL_RANK", std::to_string(rank)},
        {"RINGPIPE_JOB_ID", std::to_string(job_id)},
        {"RINGPIPE_RENDEZVOUS_TIMEOUT_S", "30"},
        {"RINGPIPE_OP_TIMEOUT_S", "30"},
    };
    if (rank == 0) env["RINGPIPE_LISTEN_FD"] = std::to_string(listen_fd);
    if (options.customize) options.customize(rank, env);
    const ExecPlan plan = plan_exec(rank, env);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) exec_rank(plan, rank == 0 ? listen_fd : -1, pipe_fds[1]);
    ::close(pipe_fds[1]);
    if (pid < 0) {
      ::close(pipe_fds[0]);
      for (const Child& started : children) ::kill(started.pid, SIGKILL);
      for (const Child& started : children) ::waitpid(started.pid, nullptr, 0);
      throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    }
    Child child;
    child.rank = rank;
    child.pid = pid;
    child.output_fd = pipe_fds[0];
    child.result.rank = rank;
    children.push_back(child);
  }
  ::close(listen_fd);

  const auto deadline = start + options.timeout;
  std::size_t running = children.size();
  bool killed = false;
  bool failed = false;
  while (running > 0) {
    std::vector<pollfd> fds;
    for (const Child& child : children) {
      if (child.output_fd >= 0) fds.push_back({child.output_fd, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 20);
    for (Child& child : children) {
      if (child.output_fd < 0) continue;
      char buffer[4096];
      pollfd entry{child.output_fd, POLLIN, 0};
      while (::poll(&entry, 1, 0) > 0) {
        const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
        if (n <= 0) {
          ::close(child.output_fd);
          child.output_fd = -1;
          break;
        }
        child.result.output.append(buffer, static_cast<std::size_t>(n));
      }
    }
    for (Child& child : children) {
      if (child.exited) continue;
      int status = 0;
      if (::waitpid(child.pid, &status, WNOHANG) != child.pid) continue;
      child.exited = true;
      --running;
      child.result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (WIFEXITED(status)) child.result.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) child.result.signal = WTERMSIG(status);
      failed = failed || child.result.exit_code != 0;
    }
    const bool expired = Clock::now() > deadline;
    if (!killed && (expired || (failed && options.stop_on_failure))) {
      // A hang is a failure with a message, never a stuck test run; after a failure the other
      // ranks could only wait for the one that is gone.
      for (Child& child : children) {
        if (!child.exited) {
          child.result.timed_out = expired;
          ::kill(child.pid, SIGKILL);
        }
      }
      killed = true;
    }
  }
  std::vector<RankResult> results;
  for (Child& child : children) {
    if (child.output_fd >= 0) ::close(child.output_fd);
    results.push_back(std::move(child.result));
  }
  return results;
}

std::string describe_failures(const std::vector<RankResult>& results) {
  std::ostringstream text;
  for (const RankResult& result : results) {
    if (result.exit_code == 0 && !result.timed_out) continue;
    text << "rank " << result.rank << ": ";
    if (result.timed_out) text << "timed out and was killed; ";
    if (result.exit_code < 0 && !result.timed_out) text << "stopped after another rank failed; ";
    if (result.signal) text << "killed by signal " << result.signal << "; ";
    if (result.exit_code >= 0) text << "exit code " << result.exit_code << "; ";
    const std::string& output = result.output;
    text << "output:\n"
         << (output.size() > 4000 ? output.substr(output.size() - 4000) : output) << "\n";
  }
  return text.str();
}

void run_ring(int world_size, const std::function<void(Ring& ring)>& body,
              const SpawnOptions& options) {
  const auto results = spawn_ranks(
      world_size,
      [&](int) {
        Ring ring(Options::from_env());
        body(ring);
      },
      options);
  bool all_ok = true;
  for (const RankResult& result : results) {
    all_ok = all_ok && result.exit_code == 0 && !result.timed_out;
  }
  EXPECT_TRUE(all_ok) << describe_failures(results);
}

void fill_pattern(void* data, std::size_t size, std::uint64_t seed) {
  auto* bytes = static_cast<unsigned char*>(data);
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(bytes + i, &state, 8);
  }
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  for (std::size_t j = 0; i < size; ++i, ++j)
    bytes[i] = static_cast<unsigned char>(state >> (8 * j));
}

std::size_t count_wrong(const void* data, std::size_t size, std::uint64_t seed) {
  std::vector<unsigned char> expected(size);
  fill_pattern(expected.data(), size, seed);
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < size; ++i) wrong += bytes[i] != expected[i];
  return wrong;
}

}  // namespace ringpipe::test
