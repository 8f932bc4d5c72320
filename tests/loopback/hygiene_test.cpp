// Rings created and destroyed over and over leak nothing (file descriptors, resident memory),
// and a 1 GiB message arrives intact.
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace ringpipe {
namespace {

int open_fds() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count;
}

long resident_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

long available_kib() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long value = 0;
  std::string unit;
  while (meminfo >> key >> value >> unit) {
    if (key == "MemAvailable:") return value;
  }
  return 0;
}

// A cycle that leaked one descriptor or a few KiB would show over these counts.
constexpr long kResidentGrowthKib = 16 * 1024;

// AddressSanitizer holds freed memory in quarantine (up to 256 MiB), so resident memory grows
// without a leak; there LeakSanitizer, run at every process's exit, checks for leaks instead.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kResidentMemoryIsMeaningful = false;
#else
constexpr bool kResidentMemoryIsMeaningful = true;
#endif

void expect_resident_growth_below_bound(long before, const char* what) {
  if (!kResidentMemoryIsMeaningful) return;
  EXPECT_LT(resident_kib() - before, kResidentGrowthKib)
      << what << ": resident KiB before " << before << ", after " << resident_kib();
}

void one_round(Ring& ring) {
  std::uint64_t out = 1, in = 0;
  Request received = ring.pred().irecv(&in, sizeof in, 1);
  ring.succ().send(&out, sizeof out, 1);
  received.wait();
  EXPECT_EQ(in, 1u);
}

TEST(Hygiene, AThousandOneRankRingsLeakNoDescriptorsOrMemory) {
  for (int i = 0; i < 50; ++i) {  // warm-up: UCX's lazily loaded modules and caches
    Ring ring{Options{}};
    one_round(ring);
  }
  const int fds = open_fds();
  const long resident = resident_kib();
  for (int i = 0; i < 1000; ++i) {
    Ring ring{Options{}};
    one_round(ring);
  }
  std::printf("1000 one-rank rings: descriptors %d -> %d, resident %+ld KiB\n", fds, open_fds(),
              resident_kib() - resident);
  EXPECT_EQ(open_fds(), fds) << "descriptors after 1000 rings";
  expect_resident_growth_below_bound(resident, "1000 one-rank rings");
}

TEST(Hygiene, AHundredTwoRankRingsLeakNoDescriptorsOrMemory) {
  const auto results = test::spawn_ranks(2, [](int) {
    const auto cycle = [] {
      Ring ring(Options::from_env());
      one_round(ring);
    };
    for (int i = 0; i < 10; ++i) cycle();
    const int fds = open_fds();
    const long resident = resident_kib();
    for (int i = 0; i < 100; ++i) cycle();
    std::printf("100 two-rank rings: descriptors %d -> %d, resident %+ld KiB\n", fds, open_fds(),
                resident_kib() - resident);
    EXPECT_EQ(open_fds(), fds) << "descriptors after 100 rings";
    expect_resident_growth_below_bound(resident, "100 two-rank rings");
  });
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

TEST(Hygiene, OneGibibyteMessageArrivesIntact) {
  static constexpr std::size_t kBytes = std::size_t{1} << 30;
  // Two ranks each hold a send and a receive buffer.
  if (available_kib() < 6L * 1024 * 1024) {
    GTEST_SKIP() << "needs 6 GiB of available memory, " << available_kib() / 1024 << " MiB free";
  }
  test::SpawnOptions options;
  options.timeout = std::chrono::seconds(180);
  test::run_ring(
      2,
      [](Ring& ring) {
        std::vector<std::uint8_t> out(kBytes), in(kBytes);
        test::fill_pattern(out.data(), kBytes, 1000 + static_cast<unsigned>(ring.rank()));
        Request received = ring.pred().irecv(in.data(), in.size(), 1);
        ring.succ().send(out.data(), kBytes, 1, std::chrono::seconds(120));
        received.wait(std::chrono::seconds(120));
        EXPECT_EQ(received.bytes(), kBytes);
        EXPECT_EQ(
            test::count_wrong(in.data(), kBytes, 1000 + static_cast<unsigned>(ring.pred().peer())),
            0u);
      },
      options);
}

}  // namespace
}  // namespace ringpipe
