// Rings of real rank processes with a shared token (RINGPIPE_TOKEN): the same token forms the
// ring; a wrong token, or a token on one side only, is AuthFailed on that rank within a second
// or two, saying which side lacks or mismatches it, while the real ranks form the ring; clients
// that do not know the token cannot take a rank's slot; no token ever appears in what a rank
// prints, even with debug logging.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"
#include "rank_events.hpp"
#include "rendezvous/auth.hpp"
#include "rendezvous/wire.hpp"
#include "rendezvous_clients.hpp"
#include "ringpipe_config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::FinishedWithin;
using test::join_and_report;
using test::JoinedAndVerifiedARound;
using test::RankResult;
using test::Reported;
using test::spawn_ranks;
using test::SpawnOptions;
using test::verify_one_round;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f1a3c5e7b9d0f";
constexpr const char* kWrongToken = "wrong-token-3b8e1d6a";
constexpr std::uint64_t kJobId = 0x5eed0a17;

// A rank joins, reports, and exchanges one checked round if its ring formed.
void join_and_verify(int) {
  if (std::optional<Ring> ring = join_and_report()) verify_one_round(*ring);
}

// Neither token anywhere in the rank's output (errors, logs, anything).
::testing::AssertionResult ShowsNoToken(const RankResult& result) {
  for (const char* token : {kToken, kWrongToken}) {
    if (result.output.find(token) != std::string::npos) {
      return ::testing::AssertionFailure() << "rank " << result.rank << " printed a token:\n"
                                           << result.output;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(RingAuth, RingOfThreeWithTheSameTokenFormsAndMovesCheckedData) {
  SpawnOptions options;
  options.timeout = 60s;
  options.customize = [](int, auto& env) {
    env["RINGPIPE_TOKEN"] = kToken;
    env["RINGPIPE_LOG"] = "debug";
  };
  const auto results = spawn_ranks(
      3,
      [](int) {
        std::optional<Ring> ring = join_and_report();
        if (!ring) return;
        verify_one_round(*ring);
        // And 16 more rounds of 1 MiB each way, every byte checked.
        const int n = ring->world_size();
        const int r = ring->rank();
        std::vector<std::uint8_t> out(1 << 20), in(1 << 20);
        for (std::uint64_t round = 0; round < 16; ++round) {
          test::fill_pattern(out.data(), out.size(), round * 16 + static_cast<std::uint64_t>(r));
          Request receive = ring->pred().irecv(in.data(), in.size(), 5);
          ring->succ().send(out.data(), out.size(), 5, 20s);
          receive.wait(20s);
          const auto pred = static_cast<std::uint64_t>((r - 1 + n) % n);
          ASSERT_EQ(test::count_wrong(in.data(), in.size(), round * 16 + pred), 0u);
        }
        test::print_line("BULK verified");
      },
      options);
  ASSERT_EQ(results.size(), 3u);
  for (const RankResult& result : results) {
    EXPECT_TRUE(JoinedAndVerifiedARound(result));
    EXPECT_NE(result.output.find("BULK verified"), std::string::npos) << test::describe(result);
    EXPECT_TRUE(ShowsNoToken(result));
  }
}

// Waits, in rank 0, until `count` other processes are connected to the rendezvous port, so that
// the head meets them all at once when it starts.
void wait_for_connections(int count) {
  const auto port = static_cast<std::uint16_t>(std::stoi(test::env_or("RINGPIPE_PORT", "0")));
  const auto deadline = Clock::now() + 15s;
  int connected = 0;
  while ((connected = test::connections_established(port)) < count && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(connected, count) << "the other processes did not connect within 15 s";
}

TEST(RingAuth, RankWithAWrongTokenIsAuthFailedAtOnceAndTheRingFormsWithoutIt) {
  SpawnOptions options;
  options.timeout = 60s;
  options.ranks = {0, 1, 1};
  int spawned = 0;
  options.customize = [&spawned](int, auto& env) {
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "20";
    env["RINGPIPE_LOG"] = "debug";
    // The second rank-1 process is the impostor.
    env["RINGPIPE_TOKEN"] = ++spawned == 3 ? kWrongToken : kToken;
  };
  const auto results = spawn_ranks(
      2,
      [](int rank) {
        if (rank == 0) wait_for_connections(2);
        join_and_verify(rank);
      },
      options);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(JoinedAndVerifiedARound(results[0]));
  EXPECT_TRUE(JoinedAndVerifiedARound(results[1])) << "the impostor kept rank 1 out";
  EXPECT_TRUE(Reported(results[2], "AuthFailed", {"has a token that does not match the head's"}));
  // Refused as soon as the head checked its proof, not at the 20 s rendezvous timeout.
  EXPECT_TRUE(FinishedWithin(results[2], 0, 10.0));
  for (const RankResult& result : results) EXPECT_TRUE(ShowsNoToken(result));
}

// Rank 0 (the head) and rank 1 disagree on whether there is a token at all: rank 1 fails at
// once naming the side without one; rank 0 waits for it until its timeout.
void expect_one_sided_token_refused(bool head_has_token, const std::string& message) {
  SpawnOptions options;
  options.timeout = 30s;
  options.customize = [head_has_token](int rank, auto& env) {
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "4";
    if ((rank == 0) == head_has_token) env["RINGPIPE_TOKEN"] = kToken;
  };
  const auto results = spawn_ranks(2, join_and_verify, options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(Reported(results[1], "AuthFailed", {message}));
  EXPECT_TRUE(FinishedWithin(results[1], 0, 3.0)) << "must not wait for the 4 s timeout";
  EXPECT_TRUE(test::WaitingRankTimedOutNaming(results[0], "rank 1"));
  for (const RankResult& result : results) EXPECT_TRUE(ShowsNoToken(result));
}

TEST(RingAuth, TokenOnlyAtTheHeadIsAuthFailedOnTheRankWithout) {
  expect_one_sided_token_refused(true, "requires a token but this rank has none");
}

TEST(RingAuth, TokenOnlyAtTheRankIsAuthFailedOnThatRank) {
  expect_one_sided_token_refused(false, "has no token but this rank has one");
}

// What one attacker got from the head: the frame types in order, and the Error's code.
struct AttackerView {
  std::string types;
  std::optional<std::uint16_t> error_code;
};

// Connects before any rank starts (the head meets it first) and claims rank 1 of the right job
// in one of three ways, none knowing the token; then records every frame the head sends, and
// marks "attacker <way> refused" once the head's Error came.
AttackerView attack(std::uint16_t port, int way, const test::RankEvents& events) {
  AttackerView view;
  const int fd = test::connect_raw("127.0.0.1", port, Clock::now() + 5s);
  if (fd < 0) return view;
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = 2;
  hello.rank = 1;
  hello.job_id = kJobId;
  hello.host = "attacker";
  hello.host_identity = "attacker/boot";
  hello.address = Bytes(64, std::byte{0x66});
  Bytes frames;
  if (way == 1) {
    rendezvous::AuthResponse guess{kJobId, true, rendezvous::fresh_nonce(), {}};
    guess.proof.fill(std::byte{0x99});
    frames = rendezvous::encode(guess);
  } else if (way == 2) {
    frames = rendezvous::encode(rendezvous::AuthResponse{kJobId, false, {}, {}});
  }
  const Bytes hello_frame = rendezvous::encode(hello);
  frames.insert(frames.end(), hello_frame.begin(), hello_frame.end());
  test::send_raw(fd, frames);
  while (std::optional<test::RawFrame> frame = test::read_frame_raw(fd, 20s)) {
    view.types += std::to_string(static_cast<int>(frame->type)) + " ";
    if (frame->type == rendezvous::FrameType::Error) {
      view.error_code = rendezvous::decode_error(frame->payload).code;
      events.mark("attacker " + std::to_string(way) + " refused");
    }
  }
  ::close(fd);
  return view;
}

TEST(RingAuth, ClientsWithoutTheTokenCannotTakeARankSlot) {
  test::RankEvents events;  // outlives the attackers, which mark it
  std::vector<std::future<AttackerView>> attackers;
  SpawnOptions options;
  options.timeout = 60s;
  options.customize = [](int, auto& env) {
    env["RINGPIPE_TOKEN"] = kToken;
    env["RINGPIPE_JOB_ID"] = std::to_string(kJobId);
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "20";
  };
  options.on_listening = [&](std::uint16_t port) {
    for (int way = 0; way < 3; ++way) {
      attackers.push_back(std::async(std::launch::async, attack, port, way, std::cref(events)));
    }
    // Every attacker is in the backlog before rank 0 starts its head.
    const auto deadline = Clock::now() + 5s;
    while (test::connections_established(port) < 3 && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_GE(test::connections_established(port), 3) << "the attackers did not connect";
  };
  events.share_with(options);
  const auto results = spawn_ranks(
      2,
      [&](int rank) {
        if (rank == 1) {
          // After the attackers' claims were refused: the slot they went for is still free.
          for (int way = 0; way < 3; ++way) {
            EXPECT_TRUE(events.wait_for("attacker " + std::to_string(way) + " refused", 20s))
                << "attacker " << way << " was not refused";
          }
        }
        join_and_verify(rank);
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  for (const RankResult& result : results) {
    EXPECT_TRUE(JoinedAndVerifiedARound(result)) << "an attacker took a slot";
  }
  const std::string expected =
      std::to_string(static_cast<int>(rendezvous::FrameType::AuthChallenge)) + " " +
      std::to_string(static_cast<int>(rendezvous::FrameType::Error)) + " ";
  for (int way = 0; way < 3; ++way) {
    const AttackerView view = attackers[static_cast<std::size_t>(way)].get();
    EXPECT_EQ(view.types, expected) << "attack " << way << " got other frames than a refusal";
    EXPECT_EQ(view.error_code, static_cast<std::uint16_t>(Errc::AuthFailed)) << "attack " << way;
  }
}

}  // namespace
}  // namespace ringpipe
