// Links failed at one end on purpose (an unfinished send dropped or timed out, an abort): the
// neighbour is told at once and the rest of the ring learns the ring is broken; a dropped send
// to a neighbour that is only busy waits for it instead.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "fault_support.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(PeerFailure, DroppedSendWaitsForABusyNeighbourInsteadOfFailingTheLink) {
  test::run_ring(2, [](Ring& ring) {
    constexpr std::size_t kSize = 4 << 20;
    if (ring.rank() == 1) {
      std::this_thread::sleep_for(3s);  // "computing"
      std::vector<std::uint8_t> in(kSize);
      EXPECT_EQ(ring.pred().recv(in.data(), kSize, 6), kSize);
      EXPECT_EQ(test::count_wrong(in.data(), kSize, 21), 0u);
      std::uint64_t value = 1;
      ring.pred().recv(&value, sizeof value, 7);
      return;
    }
    std::vector<std::uint8_t> out(kSize);
    test::fill_pattern(out.data(), kSize, 21);
    const auto start = Clock::now();
    { Request dropped = ring.succ().isend(out.data(), kSize, 6); }
    // The destructor returned once the neighbour took the message: the buffer is free now.
    EXPECT_GT(test::seconds_since(start), 2.5);
    out.assign(kSize, 0);
    std::uint64_t value = 0;
    ring.succ().send(&value, sizeof value, 7);  // the link still works
  });
}

// An exception that unwinds past an unfinished send leaves within a short grace, not the
// operation timeout: the send's link fails instead (and the neighbour is told).
TEST(PeerFailure, ExceptionUnwindingPastAnUnfinishedSendLeavesWithinTheGrace) {
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_OP_TIMEOUT_S"] = "30"; };
  test::run_ring(
      2,
      [](Ring& ring) {
        std::uint8_t byte = 0;
        if (ring.rank() == 1) {  // never takes the message
          test::expect_error(Errc::PeerFailed, "rank 0 failed its link",
                             [&] { ring.pred().recv(&byte, 1, 2, 20s); });
          return;
        }
        std::vector<std::uint8_t> large(8 << 20);
        const auto start = Clock::now();
        try {
          Request pending = ring.succ().isend(large.data(), large.size(), 1);
          throw std::runtime_error("the model failed");
        } catch (const std::runtime_error&) {
        }
        // A one-second grace, far below the 30 s operation timeout.
        EXPECT_LT(test::seconds_since(start), 1.0 + 2.0);
        test::expect_error(Errc::Timeout, "send on rank 0 -> succ 1",
                           [&] { ring.succ().send(&byte, 1, 3, 5s); });
      },
      options);
}

TEST(Abort, EveryOtherRankFailsWithPeerFailedNamingTheAbortingRankAtOnce) {
  test::RankEvents events;
  test::SpawnOptions options;
  events.share_with(options);
  test::run_ring(
      4,
      [&](Ring& ring) {
        test::barrier(ring);
        if (ring.rank() == 2) {
          // Once the others are entering their receive.
          for (const int other : {0, 1, 3}) {
            ASSERT_TRUE(events.wait_for("rank " + std::to_string(other) + " receiving", 20s))
                << "rank " << other << " never got to its receive";
          }
          ring.abort();
          ring.abort();  // idempotent
          std::uint8_t byte = 0;
          test::expect_error(Errc::Closed, "aborted", [&] { ring.succ().send(&byte, 1, 3, 5s); });
          test::expect_error(Errc::Closed, "aborted", [&] { ring.pred().recv(&byte, 1, 3, 5s); });
          return;
        }
        std::uint8_t byte = 0;
        events.mark("rank " + std::to_string(ring.rank()) + " receiving");
        const double seconds = test::expect_error(Errc::PeerFailed, "rank 2 aborted the ring",
                                                  [&] { ring.pred().recv(&byte, 1, 3, 20s); });
        EXPECT_LT(seconds, 0.3 + 2.0);
        test::expect_error(Errc::PeerFailed, "rank 2", [&] { ring.succ().send(&byte, 1, 3, 5s); });
      },
      options);
}

// A send that times out fails its link at the sender, which closes its end: the neighbour is
// told at once over the liveness connection, so nothing it sends afterwards is reported as
// sent, and the rest of the ring learns that the ring is broken.
class FailedLink : public ::testing::TestWithParam<int> {};

TEST_P(FailedLink, TimedOutSendFailsTheLinkAtBothEndsAndBreaksTheRing) {
  test::RankEvents events;
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2"; };
  events.share_with(options);
  test::run_ring(
      GetParam(),
      [&](Ring& ring) {
        test::barrier(ring);
        if (ring.rank() == 0) {
          // Large enough for UCX's rendezvous protocol: it cannot finish without a receiver.
          std::vector<std::uint8_t> large(8 << 20);
          test::expect_error(Errc::Timeout, "send on rank 0 -> succ 1",
                             [&] { ring.succ().send(large.data(), large.size(), 1, 1s); });
          // The other edge: the same link (2 ranks) or the broken ring (more).
          std::uint8_t byte = 0;
          const Errc other = ring.world_size() == 2 ? Errc::Timeout : Errc::Closed;
          test::expect_error(other, "", [&] { ring.pred().recv(&byte, 1, 2, 5s); });
          // Alive, its Ring open, while the others check.
          for (int rank = 1; rank < ring.world_size(); ++rank) {
            EXPECT_TRUE(events.wait_for("rank " + std::to_string(rank) + " checked", 30s))
                << "rank " << rank << " never finished its checks";
          }
          return;
        }
        std::uint8_t byte = 0;
        if (ring.rank() == 1) {
          // Told within milliseconds of the timeout, not at this receive's own deadline.
          const double seconds = test::expect_error(Errc::PeerFailed, "rank 0 failed its link",
                                                    [&] { ring.pred().recv(&byte, 1, 2, 20s); });
          EXPECT_LT(seconds, 1.0 + 2.0);
          int completed = 0;
          for (int i = 0; i < 10; ++i) {
            std::array<std::uint8_t, 64> message{};
            try {
              ring.pred().send(message.data(), message.size(), 3, 5s);
              ++completed;
            } catch (const Error& error) {
              EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
              EXPECT_NE(std::string(error.what()).find("rank 0"), std::string::npos)
                  << error.what();
            }
          }
          EXPECT_EQ(completed, 0) << "sends to a rank that had failed the link completed";
          test::expect_error(Errc::PeerFailed, "rank 0",
                             [&] { ring.succ().recv(&byte, 1, 2, 5s); });
          events.mark("rank 1 checked");
          return;
        }
        // The rest of the ring.
        const double seconds = test::expect_error(Errc::PeerFailed, "rank 0 failed its link",
                                                  [&] { ring.pred().recv(&byte, 1, 2, 20s); });
        EXPECT_LT(seconds, 1.0 + 2.0);
        events.mark("rank " + std::to_string(ring.rank()) + " checked");
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Rings, FailedLink, ::testing::Values(2, 3),
                         [](const auto& info) { return std::to_string(info.param) + "_ranks"; });

}  // namespace
}  // namespace ringpipe
