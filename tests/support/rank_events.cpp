// Test helper: events between the processes of one test, as files in a shared directory.
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ringpipe::test {
namespace {

constexpr const char* kDirectoryVariable = "RINGPIPE_TEST_EVENTS_DIR";
// How often a wait looks again: far below the timings the tests measure.
constexpr auto kPollInterval = std::chrono::milliseconds(2);

using Clock = std::chrono::steady_clock;

// True once `done()` holds, false at `deadline`.
template <typename F>
bool poll_until(Clock::time_point deadline, F&& done) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

// A process that has exited is gone from /proc, or a zombie until its parent (the test process)
// reaps it; either way the kernel has closed its descriptors.
bool has_exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const std::size_t name_end = line.rfind(')');  // the command name may hold spaces
  if (name_end == std::string::npos || name_end + 2 >= line.size()) return true;
  const char state = line[name_end + 2];
  return state == 'Z' || state == 'X';
}

}  // namespace

RankEvents::RankEvents() {
  if (is_rank_process()) {
    const char* directory = std::getenv(kDirectoryVariable);
    if (directory == nullptr) {
      throw std::runtime_error(std::string("RankEvents: ") + kDirectoryVariable +
                               " is not set; call share_with() on the SpawnOptions");
    }
    directory_ = directory;
    return;
  }
  std::string pattern = ::testing::TempDir() + "ringpipe-events-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (::mkdtemp(name.data()) == nullptr) {
    throw std::runtime_error("RankEvents: cannot create " + pattern + ": " + std::strerror(errno));
  }
  directory_ = name.data();
  owner_ = true;
}

RankEvents::~RankEvents() {
  if (!owner_) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

void RankEvents::share_with(SpawnOptions& options) const {
  options.customize = [directory = directory_, customize = options.customize](
                          int rank, std::map<std::string, std::string>& env) {
    env[kDirectoryVariable] = directory;
    if (customize) customize(rank, env);
  };
}

std::string RankEvents::path_of(const std::string& event) const { return directory_ + "/" + event; }

void RankEvents::mark(const std::string& event) const {
  // Written whole under another name, then linked into place: a waiter never reads half a pid,
  // and linking fails if the event was already marked.
  const std::string path = path_of(event);
  const std::string temporary = path + ".writing." + std::to_string(::getpid());
  {
    std::ofstream out(temporary);
    out << ::getpid() << '\n';
    if (!out.flush()) throw std::runtime_error("RankEvents: cannot write " + temporary);
  }
  if (::link(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    throw std::runtime_error("RankEvents: cannot mark " + event + ": " + std::strerror(error));
  }
  std::remove(temporary.c_str());
}

bool RankEvents::wait_for(const std::string& event, std::chrono::milliseconds timeout) const {
  const std::string path = path_of(event);
  return poll_until(Clock::now() + timeout, [&] { return ::access(path.c_str(), F_OK) == 0; });
}

bool RankEvents::wait_for_exit_of(const std::string& event,
                                  std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  if (!wait_for(event, timeout)) return false;
  pid_t pid = 0;
  std::ifstream(path_of(event)) >> pid;
  if (pid <= 0) throw std::runtime_error("RankEvents: no pid in the mark of " + event);
  return poll_until(deadline, [pid] { return has_exited(pid); });
}

}  // namespace ringpipe::test
