// Neighbours that die (SIGKILL) while traffic is pending: every survivor fails with PeerFailed
// naming the dead rank, within bounds, after every message acknowledged before the death.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "fault_support.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;

TEST(PeerFailure, KilledNeighbourFailsAPendingReceiveWithPeerFailedWithinTheLivenessTimeout) {
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2"; };
  options.stop_on_failure = false;  // rank 1 dies on purpose
  const auto results = test::spawn_ranks(
      2,
      [](int rank) {
        Ring ring(Options::from_env());
        std::uint64_t value = 1;
        ring.succ().send(&value, sizeof value);
        ring.pred().recv(&value, sizeof value);
        if (rank == 1) ::raise(SIGKILL);
        test::expect_error_within(Errc::PeerFailed, "rank 1", 2.0 + 3.0,
                                  [&] { ring.pred().recv(&value, sizeof value, 0, 20s); });
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_EQ(results[1].signal, SIGKILL) << test::describe_failures(results);
}

class KilledRank : public ::testing::TestWithParam<int> {};

TEST_P(KilledRank, EverySurvivorFailsWithPeerFailedNamingItWithinFiveSeconds) {
  const int world = GetParam();
  const int victim = world / 2;
  test::RankEvents events;
  test::SpawnOptions options = test::fault_options("kill" + std::to_string(world), "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      world,
      [&](int rank) {
        Ring ring(Options::from_env());
        test::barrier(ring);
        if (rank == victim) {
          // Dies in the middle of a transfer (the size its successor receives), once the
          // successor has posted the receive it matches.
          std::vector<std::uint8_t> large(1 << 20, 7);
          Request pending = ring.succ().isend(large.data(), large.size(), 1);
          ASSERT_TRUE(events.wait_for("successor receiving", 20s))
              << "the successor never posted its receive";
          test::write_stamp();
          ::raise(SIGKILL);
        }
        const Error error = test::stream_until_failure(ring, 1 << 20, [&] {
          if (rank == (victim + 1) % world) events.mark("successor receiving");
        });
        const double detection = test::seconds_since_stamp();
        EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
        EXPECT_NE(std::string(error.what()).find("rank " + std::to_string(victim)),
                  std::string::npos)
            << error.what();
        EXPECT_LT(detection, 5.0) << error.what();
        std::printf("rank %d: %s after %.3f s: %s\n", rank,
                    std::string(to_string(error.code())).c_str(), detection, error.what());
        // The ring stays open until every survivor has its verdict: a survivor that closed
        // early would be a second event its neighbour could report instead of the kill.
        events.mark("verdict of rank " + std::to_string(rank));
        for (int other = 0; other < world; ++other) {
          if (other == victim) continue;
          EXPECT_TRUE(events.wait_for("verdict of rank " + std::to_string(other), 30s))
              << "rank " << other << " never learned of the kill";
        }
      },
      options);
  test::print_verdicts(results);
  ASSERT_EQ(results.size(), static_cast<std::size_t>(world));
  for (const auto& result : results) {
    if (result.rank == victim) {
      EXPECT_EQ(result.signal, SIGKILL) << test::describe_failures(results);
    } else {
      EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rings, KilledRank, ::testing::Values(4, 8));

TEST(PeerFailure, EveryMessageAcknowledgedBeforeAKillIsDelivered) {
  // Rank 1 sends while rank 0 is not receiving, waits until each send has completed, and dies
  // at once: its death is known within milliseconds, while its messages still sit in rank 0's
  // queues. Every completed send must arrive, intact and in order; then the link fails.
  static constexpr int kMessages = 300;
  static constexpr std::size_t kSize = 2048;
  test::RankEvents events;
  test::SpawnOptions options = test::fault_options("acked", "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      2,
      [&](int rank) {
        Ring ring(Options::from_env());
        test::barrier(ring);
        std::vector<std::uint8_t> buffer(kSize);
        if (rank == 1) {
          for (int i = 0; i < kMessages; ++i) {
            test::fill_pattern(buffer.data(), kSize, static_cast<std::uint64_t>(i));
            ring.succ().send(buffer.data(), kSize, 5, 10s);
          }
          events.mark("rank 1 sent");
          ::raise(SIGKILL);
        }
        ASSERT_TRUE(test::wait_for_exit_of_pred_unreceived(ring, events, "rank 1 sent"))
            << "rank 1 did not die";
        int received = 0;
        try {
          for (; received <= kMessages; ++received) {
            ring.pred().recv(buffer.data(), kSize, 5, 10s);
            ASSERT_EQ(test::count_wrong(buffer.data(), kSize, static_cast<std::uint64_t>(received)),
                      0u)
                << "message " << received;
          }
        } catch (const Error& error) {
          EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
        }
        EXPECT_EQ(received, kMessages) << "messages acknowledged as sent were lost";
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_EQ(results[1].signal, SIGKILL) << test::describe_failures(results);
}

}  // namespace
}  // namespace ringpipe
