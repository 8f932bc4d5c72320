// Neighbours that die, stop or close while traffic is pending: bounded, typed failures.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
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

}  // namespace
}  // namespace ringpipe
