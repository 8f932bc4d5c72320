// Test fixture: runs a test body in N real rank processes on 127.0.0.1.
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include "process/child.hpp"
#include "process/fd.hpp"
#include "process/loopback_listener.hpp"
#include "process/output.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  process::Fd fd = process::listen_on_loopback(port);
  if (!fd.is_open()) {
    throw std::runtime_error(std::string("test fixture cannot listen: ") + std::strerror(errno));
  }
  return fd.release();
}

std::string current_test_filter() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

struct RankChild {
  int rank = 0;
  process::Child process;
  process::Fd output;
  RankResult result;
};

process::Command plan_exec(int rank, const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
  }
  for (const auto& [name, value] : overrides) env[name] = value;
  env[kChildVariable] = std::to_string(rank);

  std::vector<std::string> entries;
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  return process::Command(
      {"/proc/self/exe", "--gtest_filter=" + current_test_filter(), "--gtest_brief=1"},
      std::move(entries));
}

[[noreturn]] void exec_rank(const process::Command& command) {
  command.exec();
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

  std::vector<RankChild> children;
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
    const process::Command command = plan_exec(rank, env);
    process::Pipe output;
    if (!process::open_pipe(output)) throw std::runtime_error("pipe failed");
    process::ChildSetup setup;
    setup.stdout_fd = output.write.get();
    setup.stderr_fd = output.write.get();
    // The only descriptor a rank inherits on purpose: rank 0's rendezvous socket.
    if (rank == 0) setup.inherited_fds.push_back(listen_fd);
    const pid_t pid = process::spawn(setup, [&command] { exec_rank(command); });
    output.write.reset();
    if (pid < 0) {
      // The ranks already started are killed and reaped as `children` goes.
      throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    }
    RankChild& child = children.emplace_back();
    child.rank = rank;
    child.process = process::Child(pid);
    child.output = std::move(output.read);
    child.result.rank = rank;
  }
  ::close(listen_fd);

  const auto deadline = start + options.timeout;
  std::size_t running = children.size();
  bool killed = false;
  bool failed = false;
  while (running > 0) {
    std::vector<int> outputs;
    for (const RankChild& child : children) outputs.push_back(child.output.get());
    process::wait_readable(outputs, std::chrono::milliseconds(20));
    for (RankChild& child : children) {
      if (!child.output.is_open()) continue;
      std::string& output = child.result.output;
      const std::size_t before = output.size();
      if (!process::drain(child.output.get(), output)) child.output.reset();
      const double now_s = std::chrono::duration<double>(Clock::now() - start).count();
      const auto lines =
          std::count(output.begin() + static_cast<std::ptrdiff_t>(before), output.end(), '\n');
      child.result.line_seconds.insert(child.result.line_seconds.end(),
                                       static_cast<std::size_t>(lines), now_s);
    }
    for (RankChild& child : children) {
      const std::optional<int> status = child.process.try_reap();
      if (!status) continue;
      --running;
      child.result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (WIFEXITED(*status)) child.result.exit_code = WEXITSTATUS(*status);
      if (WIFSIGNALED(*status)) child.result.signal = WTERMSIG(*status);
      failed = failed || child.result.exit_code != 0;
    }
    const bool expired = Clock::now() > deadline;
    if (!killed && (expired || (failed && options.stop_on_failure))) {
      // A hang is a failure with a message, never a stuck test run; after a failure the other
      // ranks could only wait for the one that is gone.
      for (RankChild& child : children) {
        if (child.process.running()) {
          child.result.timed_out = expired;
          child.process.signal(SIGKILL);
        }
      }
      killed = true;
    }
  }
  std::vector<RankResult> results;
  for (RankChild& child : children) results.push_back(std::move(child.result));
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
