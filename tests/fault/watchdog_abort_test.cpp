// Ring::abort() from a watchdog thread while the owning thread moves data: no crash, the owner's
// operations fail with Closed, the neighbours' with PeerFailed naming the aborting rank.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Streams patterned messages over the ring's edges until an operation fails; returns that error.
// Every message received before is checked, and counted in `verified` if given.
Error stream_until_failure(Ring& ring, std::size_t size, std::atomic<int>* verified = nullptr) {
  std::vector<std::uint8_t> out(size), in(size);
  for (std::uint64_t seed = 0;; ++seed) {
    try {
      test::fill_pattern(out.data(), size, seed);
      Request receive = ring.pred().irecv(in.data(), in.size(), 5);
      Request send = ring.succ().isend(out.data(), size, 5);
      send.wait(10s);
      receive.wait(10s);
      EXPECT_EQ(test::count_wrong(in.data(), size, seed), 0u) << "message " << seed;
      if (verified != nullptr) ++*verified;
    } catch (const Error& error) {
      return error;
    }
  }
}

TEST(WatchdogAbort, AbortFromAnotherThreadWhileTheOwnerStreamsFailsItsOperationsWithClosed) {
  constexpr int kRuns = 200;
  std::mt19937 random(12345);
  for (int run = 0; run < kRuns; ++run) {
    Options options;
    options.world_size = 1;
    options.rendezvous_timeout = 10s;
    Ring ring(options);
    const auto delay = std::chrono::microseconds(random() % 3000);
    const std::size_t size = std::size_t{1} << (6 + random() % 12);  // 64 B .. 128 KiB
    std::thread watchdog([&] {
      std::this_thread::sleep_for(delay);  // a random point of the stream, or before it
      ring.abort();
    });
    const Error error = stream_until_failure(ring, size);
    const auto aborted_by = Clock::now();
    watchdog.join();
    EXPECT_EQ(error.code(), Errc::Closed) << "run " << run << ": " << error.what();
    EXPECT_NE(std::string(error.what()).find("aborted"), std::string::npos) << error.what();
    EXPECT_LT(Clock::now() - aborted_by, 1s);
    if (HasFailure()) break;
  }
}

TEST(WatchdogAbort, NeighboursOfARankAbortedFromAnotherThreadFailWithPeerFailedNamingIt) {
  test::run_ring(3, [](Ring& ring) {
    if (ring.rank() == 1) {
      std::atomic<int> verified{0};
      std::thread watchdog([&] {
        // Once the owner is streaming: a few messages went round the ring.
        const auto deadline = Clock::now() + 20s;
        while (verified < 10 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
        EXPECT_GE(verified, 10) << "the ring did not stream before the abort";
        ring.abort();
      });
      const Error error = stream_until_failure(ring, 4096, &verified);
      watchdog.join();
      EXPECT_EQ(error.code(), Errc::Closed) << error.what();
      return;
    }
    const auto start = Clock::now();
    const Error error = stream_until_failure(ring, 4096);
    EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
    EXPECT_NE(std::string(error.what()).find("rank 1 aborted the ring"), std::string::npos)
        << error.what();
    EXPECT_LT(Clock::now() - start, 0.3s + 3s);
  });
}

}  // namespace
}  // namespace ringpipe
