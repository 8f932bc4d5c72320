// A rank waiting for a message that comes a second later must not burn a core in the blocking
// and adaptive progress modes (busy polling does, by design).
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <chrono>
#include <thread>

namespace ringpipe {
namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

class IdleWait : public ::testing::TestWithParam<const char*> {};

TEST_P(IdleWait, WaitingOneSecondCostsUnderTwoPercentOfACore) {
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_PROGRESS"] = GetParam(); };
  test::run_ring(
      2,
      [](Ring& ring) {
        std::uint64_t value = 0;
        if (ring.rank() == 0) {
          std::this_thread::sleep_for(std::chrono::seconds(1));
          value = 42;
          ring.succ().send(&value, sizeof value, 1);
          return;
        }
        const double cpu_start = cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        ring.pred().recv(&value, sizeof value, 1);
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = cpu_seconds() - cpu_start;
        EXPECT_EQ(value, 42u);
        EXPECT_GT(wall, 0.9);
        EXPECT_LT(cpu / wall, 0.02)
            << GetParam() << ": " << cpu * 1e3 << " ms of CPU in " << wall << " s of waiting";
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Loopback, IdleWait, ::testing::Values("blocking", "adaptive"));

}  // namespace
}  // namespace ringpipe
