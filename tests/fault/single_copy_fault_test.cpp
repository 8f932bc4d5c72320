// Deaths during single copies: a sender killed while its receiver copies, a receiver killed
// before it acknowledges. Never partial data reported as success, never a hang.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "fault_support.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;

// (registered buffer, the receiver starts copying only once the sender is dead)
class KilledDuringSingleCopy : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

// 256 MiB take the receiver tens of milliseconds to copy; the sender dies a few milliseconds
// after posting, or before the receiver looks. The receive either has every byte right or
// fails with PeerFailed naming the sender.
TEST_P(KilledDuringSingleCopy, SenderKilledNeverYieldsPartialData) {
  const auto [registered, dead_before_copy] = GetParam();
  test::RankEvents events;
  test::SpawnOptions options;
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2";
    env["RINGPIPE_SINGLE_COPY_MAX_BYTES"] = "256M";  // plain memory too: one copy, by CMA
  };
  options.stop_on_failure = false;  // rank 0 dies on purpose
  events.share_with(options);
  const auto results = test::spawn_ranks(
      2,
      [&, registered = registered, dead_before_copy = dead_before_copy](int rank) {
        constexpr std::size_t kSize = std::size_t{256} << 20;
        Ring ring(Options::from_env());
        RegisteredBuffer mapped;
        std::vector<std::uint8_t> plain;
        std::uint8_t* data = nullptr;
        if (registered) {
          mapped = ring.allocate(kSize);
          data = static_cast<std::uint8_t*>(mapped.data());
        } else {
          plain.resize(kSize);
          data = plain.data();
        }
        if (rank == 0) {
          test::fill_pattern(data, kSize, 77);
          test::barrier(ring);
          Request sent = ring.succ().isend(data, kSize);
          events.mark("posted");
          std::this_thread::sleep_for(3ms);  // the kill lands during the copy: the behaviour
          ::raise(SIGKILL);
        }
        Request received = ring.pred().irecv(data, kSize);
        test::barrier(ring);
        if (dead_before_copy) {
          ASSERT_TRUE(events.wait_for_exit_of("posted", 20s));
        }
        const auto start = std::chrono::steady_clock::now();
        try {
          received.wait(20s);
          EXPECT_EQ(received.bytes(), kSize);
          EXPECT_EQ(test::count_wrong(data, kSize, 77), 0u) << "a receive that succeeded";
          std::printf("rank 1: the copy finished before the sender died\n");
        } catch (const Error& error) {
          EXPECT_EQ(error.code(), Errc::PeerFailed) << error.what();
          EXPECT_NE(std::string(error.what()).find("rank 0"), std::string::npos) << error.what();
          std::printf("rank 1: %s\n", error.what());
        }
        EXPECT_LT(test::seconds_since(start), 5.0);
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].signal, SIGKILL) << test::describe_failures(results);
  EXPECT_EQ(results[1].exit_code, 0) << test::describe_failures(results);
  test::print_verdicts(results);
}

INSTANTIATE_TEST_SUITE_P(Fault, KilledDuringSingleCopy,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Registered" : "Plain") +
                                  (std::get<1>(info.param) ? "DeadBeforeTheCopy" : "");
                         });

// The receiver dies with the sender's descriptor unread: the send fails with PeerFailed naming
// it, within the liveness bound, and the sender's buffer is its own again.
TEST(KilledDuringSingleCopy, ReceiverKilledBeforeItAcknowledgesFailsTheSend) {
  test::RankEvents events;
  test::SpawnOptions options;
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2";
  };
  options.stop_on_failure = false;  // rank 1 dies on purpose
  events.share_with(options);
  const auto results = test::spawn_ranks(
      2,
      [&](int rank) {
        constexpr std::size_t kSize = std::size_t{4} << 20;
        Ring ring(Options::from_env());
        test::barrier(ring);
        if (rank == 1) {
          ASSERT_TRUE(events.wait_for("sent", 20s));
          ::raise(SIGKILL);
        }
        std::vector<std::uint8_t> message(kSize);
        Request sent = ring.succ().isend(message.data(), kSize);
        events.mark("sent");
        test::expect_error_within(Errc::PeerFailed, "rank 1", 2.0 + 3.0, [&] { sent.wait(20s); });
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_EQ(results[1].signal, SIGKILL) << test::describe_failures(results);
}

}  // namespace
}  // namespace ringpipe
