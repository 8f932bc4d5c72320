// Neighbours that stop (SIGSTOP) or only look stopped: a closing rank does not wait for a
// stopped one, its neighbours declare it stalled after the liveness timeout (and it learns so
// when resumed), while a slow receiver or a long compute is no stall.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "fault_support.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(PeerFailure, StoppedNeighbourDoesNotHoldAClosingRank) {
  test::SpawnOptions options;
  options.stop_on_failure = false;  // rank 1 is killed on purpose
  const auto results = test::spawn_ranks(
      2,
      [](int rank) {
        Ring ring(Options::from_env());
        if (rank == 1) {
          const std::int64_t pid = ::getpid();
          ring.pred().send(&pid, sizeof pid);
          ::pause();  // stopped and killed by rank 0
          return;
        }
        std::int64_t pid = 0;
        ring.succ().recv(&pid, sizeof pid);
        // Unreceived messages, then the neighbour freezes: closing must not wait for it. (Fewer
        // than UCX's shared-memory FIFO holds, 64 by default less what the Ring's set-up used,
        // so that the sends complete without the frozen neighbour.)
        std::vector<std::uint8_t> message(8 << 10);
        for (int i = 0; i < 32; ++i) ring.succ().send(message.data(), message.size(), 5, 5s);
        ::kill(static_cast<pid_t>(pid), SIGSTOP);
        const auto start = Clock::now();
        { Ring closing = std::move(ring); }
        EXPECT_LT(test::seconds_since(start), 8.0) << "closing waited for a stopped neighbour";
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
}

TEST(Liveness, StoppedRankIsStalledForItsNeighboursAndFailsTheRestOfTheRing) {
  constexpr double kLiveness = 2.0;
  test::RankEvents events;
  test::SpawnOptions options = test::fault_options("stop", "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      4,
      [&](int rank) {
        Ring ring(Options::from_env());
        test::barrier(ring);
        if (rank == 1) {
          test::write_stamp();
          ::raise(SIGSTOP);                  // killed by rank 0 once detected
          std::this_thread::sleep_for(60s);  // never ends: the kill comes first
          return;
        }
        const Error error = test::stream_until_failure(ring, 64 << 10);
        const double detection = test::seconds_since_stamp();
        const bool neighbour = rank == 0 || rank == 2;
        EXPECT_EQ(error.code(), neighbour ? Errc::Stalled : Errc::PeerFailed) << error.what();
        EXPECT_NE(std::string(error.what()).find("rank 1"), std::string::npos) << error.what();
        // Not before the timeout (a stopped rank is not dead), and not much after it.
        // (timed from its last heartbeat, which can be up to a beat, 0.25 s, before the stop)
        EXPECT_GT(detection, kLiveness - 0.5) << error.what();
        EXPECT_LT(detection, kLiveness + 2.0) << error.what();
        std::printf("rank %d: %s after %.3f s: %s\n", rank,
                    std::string(to_string(error.code())).c_str(), detection, error.what());
        events.mark("verdict of rank " + std::to_string(rank));
        if (rank == 0) {
          // Once the others have had their verdicts too: a kill before would be a death to them.
          for (const int other : {2, 3}) {
            EXPECT_TRUE(events.wait_for("verdict of rank " + std::to_string(other), 20s))
                << "rank " << other << " has no verdict";
          }
          ::kill(static_cast<pid_t>(test::read_stamp().pid), SIGKILL);
        }
      },
      options);
  test::print_verdicts(results);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& result : results) {
    if (result.rank == 1) {
      EXPECT_EQ(result.signal, SIGKILL) << test::describe_failures(results);
    } else {
      EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
    }
  }
}

TEST(Liveness, RankResumedAfterItsNeighboursGaveUpOnItLearnsItWasDeclaredStalled) {
  test::RankEvents events;
  test::SpawnOptions options = test::fault_options("resume", "1");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      3,
      [&](int rank) {
        Ring ring(Options::from_env());
        test::barrier(ring);
        std::uint8_t byte = 0;
        if (rank == 1) {
          test::write_stamp();
          ::raise(SIGSTOP);  // resumed by rank 0 after both neighbours gave up on it
          // Its neighbours' connections ended while it slept: that is their verdict on it,
          // not their death.
          test::expect_error(Errc::Stalled, "declared this rank stalled",
                             [&] { ring.pred().recv(&byte, 1, 3, 10s); });
          events.mark("rank 1 looked");
          return;
        }
        // Stalled on the edge to rank 1; the other edge may fail first, with PeerFailed.
        const Error error = test::stream_until_failure(ring, 4096);
        EXPECT_TRUE(error.code() == Errc::Stalled || error.code() == Errc::PeerFailed)
            << error.what();
        EXPECT_NE(std::string(error.what()).find("rank 1"), std::string::npos) << error.what();
        if (rank == 2) events.mark("verdict of rank 2");
        if (rank == 0) {
          EXPECT_TRUE(events.wait_for("verdict of rank 2", 20s)) << "rank 2 has no verdict";
          ::kill(static_cast<pid_t>(test::read_stamp().pid), SIGCONT);
        }
        // The ring stays up while rank 1 looks.
        EXPECT_TRUE(events.wait_for("rank 1 looked", 20s)) << "rank 1 never looked";
      },
      options);
  test::print_verdicts(results);
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

TEST(Liveness, SlowReceiverAndLongComputeWithoutCallsAreNotMistakenForAStall) {
  // Liveness timeout 1 s; the receiver computes 2.5 s without calling ringpipe, then takes
  // one message every 200 ms: far longer in all than the timeout, yet steady.
  static constexpr std::size_t kSize = 1 << 20;
  static constexpr int kMessages = 15;
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "1"; };
  test::run_ring(
      2,
      [](Ring& ring) {
        std::vector<std::uint8_t> buffer(kSize);
        if (ring.rank() == 1) {
          std::this_thread::sleep_for(2500ms);
          for (int i = 0; i < kMessages; ++i) {
            ASSERT_EQ(ring.pred().recv(buffer.data(), kSize, 4, 10s), kSize);
            EXPECT_EQ(test::count_wrong(buffer.data(), kSize, static_cast<std::uint64_t>(i)), 0u);
            std::this_thread::sleep_for(200ms);
          }
          return;
        }
        for (int i = 0; i < kMessages; ++i) {
          test::fill_pattern(buffer.data(), kSize, static_cast<std::uint64_t>(i));
          ring.succ().send(buffer.data(), kSize, 4, 10s);
        }
      },
      options);
}

}  // namespace
}  // namespace ringpipe
