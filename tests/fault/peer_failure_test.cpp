// Neighbours that die, stop or close while traffic is pending: bounded, typed failures.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `call`, expecting Error{code} naming `text` within `max_seconds`.
template <typename F>
void expect_error_within(Errc code, const std::string& text, double max_seconds, F&& call) {
  EXPECT_LT(test::expect_error(code, text, call), max_seconds);
}

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
        expect_error_within(Errc::PeerFailed, "rank 1", 2.0 + 3.0,
                            [&] { ring.pred().recv(&value, sizeof value, 0, 20s); });
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_EQ(results[1].signal, SIGKILL) << test::describe_failures(results);
}

TEST(PeerFailure, PendingSendToANeighbourThatClosesFailsWithClosedPromptly) {
  test::run_ring(2, [](Ring& ring) {
    std::uint8_t ready = 0;
    if (ring.rank() == 1) {
      ring.pred().recv(&ready, sizeof ready);
      return;  // closes without receiving the large message
    }
    std::vector<std::uint8_t> large(16 << 20);
    Request pending = ring.succ().isend(large.data(), large.size(), 3);
    ring.succ().send(&ready, sizeof ready);
    expect_error_within(Errc::Closed, "send on rank 0 -> succ 1 tag 3", 5.0,
                        [&] { pending.wait(60s); });
  });
}

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
    EXPECT_GT(seconds_since(start), 2.5);
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
        EXPECT_LT(seconds_since(start), 1.0 + 2.0);
        test::expect_error(Errc::Timeout, "send on rank 0 -> succ 1",
                           [&] { ring.succ().send(&byte, 1, 3, 5s); });
      },
      options);
}

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
        // Unreceived messages, then the neighbour freezes: closing must not wait for it.
        std::vector<std::uint8_t> message(8 << 10);
        for (int i = 0; i < 64; ++i) ring.succ().send(message.data(), message.size(), 5, 5s);
        ::kill(static_cast<pid_t>(pid), SIGSTOP);
        const auto start = Clock::now();
        { Ring closing = std::move(ring); }
        EXPECT_LT(seconds_since(start), 8.0) << "closing waited for a stopped neighbour";
        ::kill(static_cast<pid_t>(pid), SIGKILL);
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
}

// A rank that fails on purpose leaves its pid and the moment (steady clock, shared by every
// process of the host) in a file, so the others can time their detection from it.
struct FaultStamp {
  std::int64_t pid = 0;
  std::int64_t at_ns = 0;
};

std::string stamp_path() {
  const char* path = std::getenv("RINGPIPE_TEST_STAMP");
  return path != nullptr ? path : "";
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

test::SpawnOptions fault_options(const std::string& name, const std::string& liveness_s) {
  test::SpawnOptions options;
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

// Every rank streams to its successor until an operation fails; returns that error.
// `receiving` runs once the first receive is posted.
Error stream_until_failure(Ring& ring, std::size_t size,
                           const std::function<void()>& receiving = {}) {
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

// Ring-wide exchange, so every rank is past construction before a fault is injected.
void barrier(Ring& ring) {
  std::uint8_t token = 0;
  Request receive = ring.pred().irecv(&token, 1, 9);
  ring.succ().send(&token, 1, 9);
  receive.wait(20s);
}

// Waits until the predecessor, which marked `event`, has exited, receiving nothing from it
// meanwhile but keeping this rank's transport moving (a receive for a tag it never sends), so
// that its sends complete into this rank's queues. False if it had not exited within 20 s.
bool wait_for_exit_of_pred_unreceived(Ring& ring, const test::RankEvents& events,
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

// Shows each survivor's verdict line in the test's output: the detection times, for the record.
void print_verdicts(const std::vector<test::RankResult>& results) {
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

class KilledRank : public ::testing::TestWithParam<int> {};

TEST_P(KilledRank, EverySurvivorFailsWithPeerFailedNamingItWithinFiveSeconds) {
  const int world = GetParam();
  const int victim = world / 2;
  test::RankEvents events;
  test::SpawnOptions options = fault_options("kill" + std::to_string(world), "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      world,
      [&](int rank) {
        Ring ring(Options::from_env());
        barrier(ring);
        if (rank == victim) {
          // Dies in the middle of a transfer (the size its successor receives), once the
          // successor has posted the receive it matches.
          std::vector<std::uint8_t> large(1 << 20, 7);
          Request pending = ring.succ().isend(large.data(), large.size(), 1);
          ASSERT_TRUE(events.wait_for("successor receiving", 20s))
              << "the successor never posted its receive";
          write_stamp();
          ::raise(SIGKILL);
        }
        const Error error = stream_until_failure(ring, 1 << 20, [&] {
          if (rank == (victim + 1) % world) events.mark("successor receiving");
        });
        const double detection = seconds_since_stamp();
        EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
        EXPECT_NE(std::string(error.what()).find("rank " + std::to_string(victim)),
                  std::string::npos)
            << error.what();
        EXPECT_LT(detection, 5.0) << error.what();
        std::printf("rank %d: %s after %.3f s: %s\n", rank,
                    std::string(to_string(error.code())).c_str(), detection, error.what());
      },
      options);
  print_verdicts(results);
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
  test::SpawnOptions options = fault_options("acked", "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      2,
      [&](int rank) {
        Ring ring(Options::from_env());
        barrier(ring);
        std::vector<std::uint8_t> buffer(kSize);
        if (rank == 1) {
          for (int i = 0; i < kMessages; ++i) {
            test::fill_pattern(buffer.data(), kSize, static_cast<std::uint64_t>(i));
            ring.succ().send(buffer.data(), kSize, 5, 10s);
          }
          events.mark("rank 1 sent");
          ::raise(SIGKILL);
        }
        ASSERT_TRUE(wait_for_exit_of_pred_unreceived(ring, events, "rank 1 sent"))
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

TEST(PeerFailure, EveryMessageSentBeforeACloseIsDeliveredThenClosed) {
  // Rank 1 sends while rank 0 is not receiving and closes its ring at once; rank 0 then
  // finds every message, intact and in order, and only after them Closed.
  static constexpr int kMessages = 300;
  static constexpr std::size_t kSize = 2048;
  test::RankEvents events;
  test::SpawnOptions options;
  events.share_with(options);
  test::run_ring(
      2,
      [&](Ring& ring) {
        barrier(ring);
        std::vector<std::uint8_t> buffer(kSize);
        if (ring.rank() == 1) {
          for (int i = 0; i < kMessages; ++i) {
            test::fill_pattern(buffer.data(), kSize, static_cast<std::uint64_t>(i));
            ring.succ().send(buffer.data(), kSize, 5, 10s);
          }
          events.mark("rank 1 sent");
          return;  // the ring closes here, then the process exits
        }
        ASSERT_TRUE(wait_for_exit_of_pred_unreceived(ring, events, "rank 1 sent"))
            << "rank 1 did not close";
        for (int i = 0; i < kMessages; ++i) {
          ASSERT_EQ(ring.pred().recv(buffer.data(), kSize, 5, 10s), kSize) << "message " << i;
          ASSERT_EQ(test::count_wrong(buffer.data(), kSize, static_cast<std::uint64_t>(i)), 0u)
              << "message " << i;
        }
        test::expect_error(Errc::Closed, "closed its ring",
                           [&] { ring.pred().recv(buffer.data(), kSize, 5, 10s); });
      },
      options);
}

TEST(Liveness, StoppedRankIsStalledForItsNeighboursAndFailsTheRestOfTheRing) {
  constexpr double kLiveness = 2.0;
  test::RankEvents events;
  test::SpawnOptions options = fault_options("stop", "2");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      4,
      [&](int rank) {
        Ring ring(Options::from_env());
        barrier(ring);
        if (rank == 1) {
          write_stamp();
          ::raise(SIGSTOP);                  // killed by rank 0 once detected
          std::this_thread::sleep_for(60s);  // never ends: the kill comes first
          return;
        }
        const Error error = stream_until_failure(ring, 64 << 10);
        const double detection = seconds_since_stamp();
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
          ::kill(static_cast<pid_t>(read_stamp().pid), SIGKILL);
        }
      },
      options);
  print_verdicts(results);
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
  test::SpawnOptions options = fault_options("resume", "1");
  events.share_with(options);
  const auto results = test::spawn_ranks(
      3,
      [&](int rank) {
        Ring ring(Options::from_env());
        barrier(ring);
        std::uint8_t byte = 0;
        if (rank == 1) {
          write_stamp();
          ::raise(SIGSTOP);  // resumed by rank 0 after both neighbours gave up on it
          // Its neighbours' connections ended while it slept: that is their verdict on it,
          // not their death.
          test::expect_error(Errc::Stalled, "declared this rank stalled",
                             [&] { ring.pred().recv(&byte, 1, 3, 10s); });
          events.mark("rank 1 looked");
          return;
        }
        // Stalled on the edge to rank 1; the other edge may fail first, with PeerFailed.
        const Error error = stream_until_failure(ring, 4096);
        EXPECT_TRUE(error.code() == Errc::Stalled || error.code() == Errc::PeerFailed)
            << error.what();
        EXPECT_NE(std::string(error.what()).find("rank 1"), std::string::npos) << error.what();
        if (rank == 2) events.mark("verdict of rank 2");
        if (rank == 0) {
          EXPECT_TRUE(events.wait_for("verdict of rank 2", 20s)) << "rank 2 has no verdict";
          ::kill(static_cast<pid_t>(read_stamp().pid), SIGCONT);
        }
        // The ring stays up while rank 1 looks.
        EXPECT_TRUE(events.wait_for("rank 1 looked", 20s)) << "rank 1 never looked";
      },
      options);
  print_verdicts(results);
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

TEST(Abort, EveryOtherRankFailsWithPeerFailedNamingTheAbortingRankAtOnce) {
  test::RankEvents events;
  test::SpawnOptions options;
  events.share_with(options);
  test::run_ring(
      4,
      [&](Ring& ring) {
        barrier(ring);
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
        barrier(ring);
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
