// The rendezvous authentication over real sockets: a head on a thread of this process, ranks as
// threads with the real client, attackers and a fake head as raw sockets. Tokens that match let
// the ring form; a wrong or one-sided token is AuthFailed on the rank at once, saying which side
// lacks or mismatches it; the head drops such clients and goes on serving the real ranks; no
// unauthenticated client takes a slot or learns anything; tokens never reach a message or a log.
#include <ringpipe/error.hpp>

#include "deadline.hpp"
#include "head_thread.hpp"
#include "multiproc.hpp"
#include "net/socket.hpp"
#include "rendezvous/auth.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/wire.hpp"
#include "rendezvous_clients.hpp"
#include "ringpipe_config.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using rendezvous::FrameType;
using test::Bytes;
using test::HeadThread;
using test::kHeadJobId;
using test::RawFrame;
using test::read_frame_raw;
using test::send_raw;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "4c1b7e0a9d2f58c3e6a1b0d9f7e2c4a8";
constexpr const char* kOtherToken = "0b9e3d7c1a5f2e8d4c6b0a9f3e7d1c5b";

rendezvous::Hello hello_of(int world_size, int rank) {
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = static_cast<std::uint32_t>(world_size);
  hello.rank = static_cast<std::uint32_t>(rank);
  hello.job_id = kHeadJobId;
  hello.host = "rank-" + std::to_string(rank);
  hello.host_identity = hello.host + "/boot";
  hello.address = Bytes(40, static_cast<std::byte>(0x10 + rank));
  hello.liveness_host = "127.0.0.1";
  hello.liveness_port = static_cast<std::uint16_t>(40000 + rank);
  return hello;
}

// What one rank thread saw.
struct Joined {
  std::optional<rendezvous::Peers> peers;
  std::optional<Errc> code;
  std::string what;
  double seconds = 0;
};

// Joins as `rank` with `token` and, if that worked, takes part in the release barrier.
Joined join_as(std::uint16_t port, int world_size, int rank, const std::string& token,
               std::chrono::milliseconds timeout = 20s) {
  Joined joined;
  const auto start = Clock::now();
  try {
    const detail::Deadline deadline(timeout);
    rendezvous::RendezvousClient client("127.0.0.1", port, deadline, token);
    joined.peers = client.join(hello_of(world_size, rank), deadline);
    client.ready(deadline);
  } catch (const Error& error) {
    joined.code = error.code();
    joined.what = error.what();
  }
  joined.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return joined;
}

std::future<Joined> join_async(std::uint16_t port, int world_size, int rank,
                               const std::string& token) {
  return std::async(std::launch::async, [=] { return join_as(port, world_size, rank, token); });
}

::testing::AssertionResult JoinedTheRing(const Joined& joined, int world_size, int rank) {
  if (!joined.peers) {
    return ::testing::AssertionFailure() << "rank " << rank << " failed: " << joined.what;
  }
  const auto pred = static_cast<std::uint32_t>((rank - 1 + world_size) % world_size);
  const auto succ = static_cast<std::uint32_t>((rank + 1) % world_size);
  if (joined.peers->pred.rank != pred || joined.peers->succ.rank != succ ||
      joined.peers->pred.address != hello_of(world_size, static_cast<int>(pred)).address ||
      joined.peers->succ.address != hello_of(world_size, static_cast<int>(succ)).address) {
    return ::testing::AssertionFailure() << "rank " << rank << " got the wrong neighbours";
  }
  return ::testing::AssertionSuccess();
}

// Failed with AuthFailed, fast, with a message containing `part` and neither token.
::testing::AssertionResult RefusedQuickly(const Joined& joined, const std::string& part) {
  if (!joined.code || *joined.code != Errc::AuthFailed) {
    return ::testing::AssertionFailure()
           << "expected AuthFailed, got " << (joined.code ? to_string(*joined.code) : "success")
           << ": " << joined.what;
  }
  if (joined.what.find(part) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "the message does not say \"" << part << "\": " << joined.what;
  }
  if (joined.what.find(kToken) != std::string::npos ||
      joined.what.find(kOtherToken) != std::string::npos) {
    return ::testing::AssertionFailure() << "the message shows a token: " << joined.what;
  }
  // The deadline was 20 s: the refusal must not wait for it.
  if (joined.seconds > 2.0) {
    return ::testing::AssertionFailure() << "took " << joined.seconds << " s: " << joined.what;
  }
  return ::testing::AssertionSuccess() << joined.what;
}

// Every frame the head sends on `fd` until it closes it (or 3 s pass).
std::vector<RawFrame> frames_until_closed(int fd) {
  std::vector<RawFrame> frames;
  const auto deadline = Clock::now() + 3s;
  while (Clock::now() < deadline) {
    std::optional<RawFrame> frame = read_frame_raw(fd, 3s);
    if (!frame) break;
    frames.push_back(std::move(*frame));
  }
  return frames;
}

std::string types_of(const std::vector<RawFrame>& frames) {
  std::string text;
  for (const RawFrame& frame : frames) text += std::to_string(static_cast<int>(frame.type)) + " ";
  return text;
}

TEST(RendezvousAuth, RanksWithTheSameTokenFormTheRingAndLearnTheirNeighbours) {
  HeadThread head(3, 5s, 20s, kToken);
  std::vector<std::future<Joined>> ranks;
  for (int rank = 0; rank < 3; ++rank) ranks.push_back(join_async(head.port(), 3, rank, kToken));
  for (int rank = 0; rank < 3; ++rank) EXPECT_TRUE(JoinedTheRing(ranks[rank].get(), 3, rank));
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

TEST(RendezvousAuth, RanksWithoutTokensStillFormTheRing) {
  HeadThread head(2, 5s, 20s);
  auto rank0 = join_async(head.port(), 2, 0, "");
  auto rank1 = join_async(head.port(), 2, 1, "");
  EXPECT_TRUE(JoinedTheRing(rank0.get(), 2, 0));
  EXPECT_TRUE(JoinedTheRing(rank1.get(), 2, 1));
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

TEST(RendezvousAuth, WrongTokenIsAuthFailedAtOnceAndTheRealRanksStillFormTheRing) {
  HeadThread head(2, 5s, 20s, kToken);
  // The impostor comes first, so the head meets it before any real rank.
  EXPECT_TRUE(RefusedQuickly(join_as(head.port(), 2, 1, kOtherToken),
                             "has a token that does not match the head's"));
  auto rank0 = join_async(head.port(), 2, 0, kToken);
  auto rank1 = join_async(head.port(), 2, 1, kToken);
  EXPECT_TRUE(JoinedTheRing(rank0.get(), 2, 0));
  EXPECT_TRUE(JoinedTheRing(rank1.get(), 2, 1));
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

TEST(RendezvousAuth, RankWithATokenRefusesAHeadWithoutOne) {
  HeadThread head(1, 5s, 20s);
  EXPECT_TRUE(
      RefusedQuickly(join_as(head.port(), 1, 0, kToken), "has no token but this rank has one"));
  // The head is unharmed: a rank without a token still joins.
  EXPECT_TRUE(JoinedTheRing(join_as(head.port(), 1, 0, ""), 1, 0));
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

TEST(RendezvousAuth, HeadWithATokenRefusesARankWithoutOne) {
  HeadThread head(1, 5s, 20s, kToken);
  EXPECT_TRUE(
      RefusedQuickly(join_as(head.port(), 1, 0, ""), "requires a token but this rank has none"));
  EXPECT_TRUE(JoinedTheRing(join_as(head.port(), 1, 0, kToken), 1, 0));
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

// Attackers that do not know the token try to take rank 1's slot in every order of frames the
// head could be tricked by; each gets an AuthFailed Error and nothing about the ring, and the
// real rank 1 then joins without being told the slot is taken.
TEST(RendezvousAuth, ClientsWithoutTheTokenCannotTakeARankSlot) {
  HeadThread head(2, 5s, 20s, kToken);
  const auto connect = [&] {
    return net::connect_to("127.0.0.1", head.port(), detail::Deadline(2s));
  };
  const Bytes hello = rendezvous::encode(hello_of(2, 1));
  std::vector<net::Socket> attackers;
  // 1. A Hello without authenticating.
  attackers.push_back(connect());
  ASSERT_TRUE(send_raw(attackers.back().fd(), hello));
  // 2. A made-up proof followed at once by a Hello, both in one write.
  attackers.push_back(connect());
  rendezvous::AuthResponse guess{kHeadJobId, true, rendezvous::fresh_nonce(), {}};
  guess.proof.fill(std::byte{0x42});
  Bytes pipelined = rendezvous::encode(guess);
  pipelined.insert(pipelined.end(), hello.begin(), hello.end());
  ASSERT_TRUE(send_raw(attackers.back().fd(), pipelined));
  // 3. Claims to have no token, then sends a Hello.
  attackers.push_back(connect());
  Bytes tokenless = rendezvous::encode(rendezvous::AuthResponse{kHeadJobId, false, {}, {}});
  tokenless.insert(tokenless.end(), hello.begin(), hello.end());
  ASSERT_TRUE(send_raw(attackers.back().fd(), tokenless));
  // 4. Replays a proof that was valid for another connection's challenge (as an eavesdropper
  // would have seen it), then sends a Hello.
  {
    const net::Socket observed = connect();
    const std::optional<RawFrame> challenge = read_frame_raw(observed.fd(), 5s);
    ASSERT_TRUE(challenge && challenge->type == FrameType::AuthChallenge);
    const rendezvous::AuthChallenge seen = rendezvous::decode_auth_challenge(challenge->payload);
    rendezvous::AuthResponse valid{kHeadJobId, true, rendezvous::fresh_nonce(), {}};
    valid.proof = rendezvous::rank_proof(kToken, seen.head_nonce, valid.rank_nonce, kHeadJobId);
    attackers.push_back(connect());
    Bytes replay = rendezvous::encode(valid);
    replay.insert(replay.end(), hello.begin(), hello.end());
    ASSERT_TRUE(send_raw(attackers.back().fd(), replay));
  }
  for (const net::Socket& attacker : attackers) {
    const std::vector<RawFrame> frames = frames_until_closed(attacker.fd());
    ASSERT_EQ(frames.size(), 2u) << "frame types " << types_of(frames);
    EXPECT_EQ(frames[0].type, FrameType::AuthChallenge);
    ASSERT_EQ(frames[1].type, FrameType::Error) << "frame types " << types_of(frames);
    const rendezvous::ErrorReply reply = rendezvous::decode_error(frames[1].payload);
    EXPECT_EQ(reply.code, static_cast<std::uint16_t>(Errc::AuthFailed)) << reply.message;
  }
  auto rank0 = join_async(head.port(), 2, 0, kToken);
  auto rank1 = join_async(head.port(), 2, 1, kToken);
  EXPECT_TRUE(JoinedTheRing(rank0.get(), 2, 0));
  EXPECT_TRUE(JoinedTheRing(rank1.get(), 2, 1)) << "an attacker took rank 1's slot";
  head.join();
  EXPECT_EQ(head.code(), std::nullopt) << head.what();
}

// A fake head that knows no token cannot make a rank give away its Hello (its addresses).
TEST(RendezvousAuth, RankChecksTheHeadsProofBeforeSendingItsHello) {
  net::Socket listener = net::listen_on("127.0.0.1", 0);
  const std::uint16_t port = net::local_port(listener.fd());
  std::promise<std::size_t> after_response;  // bytes the rank sent after its AuthResponse
  std::thread fake_head([&] {
    std::size_t extra = 0;
    if (net::wait_readable(listener.fd(), detail::Deadline(5s))) {
      const int fd = ::accept(listener.fd(), nullptr, nullptr);
      if (fd >= 0) {
        send_raw(fd,
                 rendezvous::encode(rendezvous::AuthChallenge{true, rendezvous::fresh_nonce()}));
        if (std::optional<RawFrame> response = read_frame_raw(fd, 5s);
            response && response->type == FrameType::AuthResponse) {
          rendezvous::AuthProof forged;
          forged.proof.fill(std::byte{0x17});
          send_raw(fd, rendezvous::encode(forged));
          extra = test::recv_raw(fd, 1 << 16, 2s).size();
        } else {
          extra = 1 << 20;  // no AuthResponse: fail below
        }
        ::close(fd);
      }
    }
    after_response.set_value(extra);
  });
  EXPECT_TRUE(RefusedQuickly(join_as(port, 2, 1, kToken), "could not prove"));
  fake_head.join();
  EXPECT_EQ(after_response.get_future().get(), 0u)
      << "the rank sent more than its AuthResponse to a head that did not prove the token";
}

// In a process of its own, so that its output is all there is: every kind of refusal, with
// debug logging, and neither token appears in the rank's errors or in the head's log.
TEST(RendezvousAuth, TokensNeverAppearInErrorsOrLogs) {
  test::SpawnOptions options;
  options.timeout = 30s;
  options.customize = [](int, auto& env) { env["RINGPIPE_LOG"] = "debug"; };
  const auto results = test::spawn_ranks(
      1,
      [](int) {
        const auto report = [](const Joined& joined) {
          test::print_line("RESULT " + std::string(joined.code ? to_string(*joined.code) : "OK") +
                           " " + joined.what);
        };
        {
          HeadThread head(1, 5s, 20s, kToken);
          report(join_as(head.port(), 1, 0, kOtherToken));
          report(join_as(head.port(), 1, 0, ""));
          report(join_as(head.port(), 1, 0, kToken));
        }
        {
          HeadThread head(1, 5s, 20s);
          report(join_as(head.port(), 1, 0, kToken));
          report(join_as(head.port(), 1, 0, ""));
        }
        {
          HeadThread head(1, 5s, 20s, kOtherToken);
          report(join_as(head.port(), 1, 0, kToken));
          report(join_as(head.port(), 1, 0, kOtherToken));
        }
      },
      options);
  ASSERT_EQ(results.size(), 1u);
  const std::string& output = results[0].output;
  ASSERT_EQ(results[0].exit_code, 0) << output;
  // The output holds what was to be searched: every refusal and the head's log of it.
  int refused = 0;
  for (std::size_t at = output.find("RESULT AuthFailed"); at != std::string::npos;
       at = output.find("RESULT AuthFailed", at + 1)) {
    ++refused;
  }
  EXPECT_EQ(refused, 4) << output;
  EXPECT_NE(output.find("rendezvous: rejecting"), std::string::npos) << output;
  EXPECT_EQ(output.find(kToken), std::string::npos) << output;
  EXPECT_EQ(output.find(kOtherToken), std::string::npos) << output;
}

// A head reachable from other hosts without a token says so, once per process; a loopback head
// or one with a token does not.
TEST(RendezvousAuth, OpenHeadWithoutATokenWarnsOncePerProcess) {
  test::SpawnOptions options;
  options.timeout = 30s;
  const auto results = test::spawn_ranks(
      1,
      [](int) {
        // Each head is served by one rank, so that it finishes at once.
        const auto serve = [](HeadThread& head) { (void)join_as(head.port(), 1, 0, ""); };
        {
          HeadThread loopback(1, 5s, 10s);
          serve(loopback);
        }
        test::print_line("MARK loopback done");
        {
          HeadThread with_token(1, 5s, 10s, kToken, "0.0.0.0");
          (void)join_as(with_token.port(), 1, 0, kToken);
        }
        test::print_line("MARK token done");
        for (int i = 0; i < 2; ++i) {
          HeadThread open(1, 5s, 10s, "", "0.0.0.0");
          serve(open);
        }
      },
      options);
  ASSERT_EQ(results.size(), 1u);
  const std::string& output = results[0].output;
  ASSERT_EQ(results[0].exit_code, 0) << output;
  const std::string warning = "without a token: anyone who can reach this port";
  const std::size_t first = output.find(warning);
  ASSERT_NE(first, std::string::npos) << output;
  EXPECT_GT(first, output.find("MARK token done")) << "a loopback or token head warned: " << output;
  EXPECT_EQ(output.find(warning, first + 1), std::string::npos) << "warned twice: " << output;
  EXPECT_NE(output.find("RINGPIPE_TOKEN", first), std::string::npos) << output;
}

}  // namespace
}  // namespace ringpipe
