// Shared by the fault tests (see fault_support.hpp).
#include "fault_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace ringpipe::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string stamp_path() {
  const char* path = std::getenv("RINGPIPE_TEST_STAMP");
  return path != nullptr ? path : "";
}

}  // namespace

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void write_stamp() {
  const std::string path = stamp_path();
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp);
    out << ::getpid() << ' ' << Clock::now().time_since_epoch().count() << '\n';
  }
  std::rename(temp.c_str(), path.c_str());  // readers never see half a stamp
}

FaultStamp read_stamp() {
  FaultStamp stamp;
  std::ifstream in(stamp_path());
  in >> stamp.pid >> stamp.at_ns;
  return stamp;
}

double seconds_since_stamp() {
  const FaultStamp stamp = read_stamp();
  EXPECT_NE(stamp.at_ns, 0) << "the failing rank left no stamp";
  return std::chrono::duration<double>(Clock::now().time_since_epoch() -
                                       Clock::duration(stamp.at_ns))
      .count();
}

SpawnOptions fault_options(const std::string& name, const std::string& liveness_s) {
  SpawnOptions options;
  const std::string path =
      ::testing::TempDir() + "/ringpipe-stamp-" + name + "-" + std::to_string(::getpid());
  std::remove(path.c_str());
  options.customize = [path, liveness_s](int, auto& env) {
    env["RINGPIPE_TEST_STAMP"] = path;
    env["RINGPIPE_LIVENESS_TIMEOUT_S"] = liveness_s;
  };
  options.stop_on_failure = false;  // one rank fails on purpose
  return options;
}

Error stream_until_failure(Ring& ring, std::size_t size, const std::function<void()>& receiving) {
  std::vector<std::uint8_t> out(size, 1);
  std::vector<std::uint8_t> in(size);
  try {
    for (int i = 0;; ++i) {
      Request receive = ring.pred().irecv(in.data(), size, 1);
      if (i == 0 && receiving) receiving();
      Request send = ring.succ().isend(out.data(), size, 1);
      receive.wait(20s);
      send.wait(20s);
    }
  } catch (const Error& error) {
    return error;
  }
}

void barrier(Ring& ring) {
  std::uint8_t token = 0;
  Request receive = ring.pred().irecv(&token, 1, 9);
  ring.succ().send(&token, 1, 9);
  receive.wait(20s);
}

bool wait_for_exit_of_pred_unreceived(Ring& ring, const RankEvents& events,
                                      const std::string& event) {
  constexpr Tag kNeverSent = 6;
  const auto deadline = Clock::now() + 20s;
  std::uint8_t byte = 0;
  {
    Request idle = ring.pred().irecv(&byte, 1, kNeverSent);
    try {
      while (!events.wait_for_exit_of(event, 0ms) && Clock::now() < deadline) idle.wait_for(5ms);
    } catch (const Error&) {
      // Its link failed or closed: it is gone or going, and sent everything before.
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return events.wait_for_exit_of(event, std::max(left, 0ms));
}

void print_verdicts(const std::vector<RankResult>& results) {
  for (const auto& result : results) {
    std::size_t start = 0;
    while (start < result.output.size()) {
      const std::size_t end = result.output.find('\n', start);
      const std::string line = result.output.substr(start, end - start);
      if (line.rfind("rank ", 0) == 0) std::printf("  %s\n", line.c_str());
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
}

}  // namespace ringpipe::test
