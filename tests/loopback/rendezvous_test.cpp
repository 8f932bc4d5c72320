// The rendezvous with real rank processes on 127.0.0.1: missing, duplicate, mismatched and
// foreign ranks fail with the right Errc and a message naming the cause, within bounded time;
// garbage and silent clients do not disturb a forming ring.
//
// Each rank process joins with Options::from_env() and prints one line
//   OUTCOME <Errc name | OK> <what()>
// plus `HEAD <host>:<port>` and, when it exchanged data with its neighbours, `ROUND verified`.
// The parent then asserts per rank on the code, the message and the elapsed time.
//
// The rank-side reporting, the checks of what ranks reported and the raw TCP clients are in
// tests/support/rendezvous_clients.hpp.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"
#include "rendezvous/wire.hpp"
#include "rendezvous_clients.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using test::authenticate_raw;
using test::Bytes;
using test::closed_by_peer_within;
using test::connect_raw;
using test::connections_established;
using test::describe;
using test::env_or;
using test::FinishedWithin;
using test::join_and_report;
using test::JoinedAndVerifiedARound;
using test::line_after;
using test::outcome_of;
using test::plausible_hello;
using test::print_line;
using test::RankResult;
using test::raw_header;
using test::read_error_reply;
using test::Reported;
using test::send_raw;
using test::spawn_ranks;
using test::SpawnOptions;
using test::verify_one_round;
using test::WaitingRankTimedOutNaming;
using Clock = std::chrono::steady_clock;

// Every rank's rendezvous waits at most `seconds`.
SpawnOptions with_rendezvous_timeout(const char* seconds) {
  SpawnOptions options;
  options.timeout = 30s;
  options.customize = [seconds](int, auto& env) { env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = seconds; };
  return options;
}

TEST(RendezvousFailure, MissingRankMakesEveryWaitingRankTimeOutNamingIt) {
  SpawnOptions options = with_rendezvous_timeout("2");
  options.ranks = {0, 1};
  const auto results = spawn_ranks(
      3, [](int) { join_and_report(); }, options);
  ASSERT_EQ(results.size(), 2u);
  for (const RankResult& result : results) {
    EXPECT_TRUE(WaitingRankTimedOutNaming(result, "rank 2"));
    // The whole timeout is waited (rank 2 might still come), but not much longer.
    EXPECT_TRUE(FinishedWithin(result, 1.9, 6.0));
  }
}

// Rank 0's own wait ends first (rank 1 would wait 20 s): its head goes with it, and must tell
// rank 1 which rank was missing rather than only that the head left.
TEST(RendezvousFailure, HeadThatGivesUpFirstTellsTheWaitingRanksWhichRankIsMissing) {
  SpawnOptions options;
  options.timeout = 30s;
  options.ranks = {0, 1};
  options.customize = [](int rank, auto& env) {
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = rank == 0 ? "2" : "20";
  };
  const auto results = spawn_ranks(
      3, [](int) { join_and_report(); }, options);
  ASSERT_EQ(results.size(), 2u);
  for (const RankResult& result : results) EXPECT_TRUE(WaitingRankTimedOutNaming(result, "rank 2"));
  // Whether the head's deadline or rank 0's own wait ends first, rank 1 is told at rank 0's
  // deadline, not at its own 20 s one.
  for (const RankResult& result : results) EXPECT_TRUE(FinishedWithin(result, 1.9, 6.0));
}

TEST(RendezvousFailure, DuplicateRankIsRejectedAndTheRingStillForms) {
  SpawnOptions options = with_rendezvous_timeout("20");
  options.ranks = {0, 1, 1};
  const auto results = spawn_ranks(
      2,
      [](int rank) {
        if (rank == 0) {
          // Both rank-1 processes must be connected before the head starts, so that it
          // challenges both at once and their Hellos come before the ring formed; a later one
          // would time out instead of being rejected.
          const auto port = static_cast<std::uint16_t>(std::stoi(env_or("RINGPIPE_PORT", "0")));
          const auto deadline = Clock::now() + 15s;
          int connected = 0;
          while ((connected = connections_established(port)) < 2 && Clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
          }
          EXPECT_GE(connected, 2) << "the rank-1 processes did not connect within 15 s";
          print_line("CONNECTED " + std::to_string(connected));
        }
        if (std::optional<Ring> ring = join_and_report()) verify_one_round(*ring);
      },
      options);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(JoinedAndVerifiedARound(results[0]));
  const bool first_won = outcome_of(results[1]).code == "OK";
  const RankResult& winner = results[first_won ? 1 : 2];
  const RankResult& loser = results[first_won ? 2 : 1];
  EXPECT_TRUE(JoinedAndVerifiedARound(winner));
  // Named when the head read its Hello before the ring formed; otherwise told that every rank
  // already joined.
  EXPECT_TRUE(Reported(loser, "InvalidArgument", {"already joined"}));
  // The loser is rejected as soon as the head reads its Hello, not at a timeout.
  EXPECT_TRUE(FinishedWithin(loser, 0, 15.0));
  for (const RankResult& result : results) EXPECT_TRUE(FinishedWithin(result, 0, 20.0));
}

TEST(RendezvousFailure, WorldSizeMismatchIsRejected) {
  SpawnOptions options;
  options.timeout = 30s;
  options.customize = [](int rank, auto& env) {
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "2";
    if (rank == 2) env["RINGPIPE_WORLD_SIZE"] = "4";
  };
  const auto results = spawn_ranks(
      3, [](int) { join_and_report(); }, options);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(
      Reported(results[2], "InvalidArgument", {"rank 2", "world size 4", "world size is 3"}));
  EXPECT_TRUE(FinishedWithin(results[2], 0, 3.0)) << "the mismatch must be reported at once";
  for (const int rank : {0, 1}) {
    EXPECT_TRUE(WaitingRankTimedOutNaming(results[static_cast<std::size_t>(rank)], "rank 2"));
    EXPECT_TRUE(FinishedWithin(results[static_cast<std::size_t>(rank)], 1.9, 6.0));
  }
}

TEST(RendezvousFailure, RankFromAnotherJobIsRejected) {
  std::string ring_job, foreign_job;
  SpawnOptions options;
  options.timeout = 30s;
  options.customize = [&](int rank, auto& env) {
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "2";
    if (rank == 0) ring_job = env["RINGPIPE_JOB_ID"];
    if (rank == 1) {
      foreign_job = std::to_string(std::stoull(env["RINGPIPE_JOB_ID"]) + 1);
      env["RINGPIPE_JOB_ID"] = foreign_job;
    }
  };
  const auto results = spawn_ranks(
      2, [](int) { join_and_report(); }, options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(
      Reported(results[1], "InvalidArgument", {"rank 1", "job " + foreign_job, "job " + ring_job}));
  EXPECT_TRUE(FinishedWithin(results[1], 0, 3.0));
  EXPECT_TRUE(WaitingRankTimedOutNaming(results[0], "rank 1"));
  EXPECT_TRUE(FinishedWithin(results[0], 1.9, 6.0));
}

TEST(RendezvousFailure, RendezvousTimeoutIsBoundedWhenHeadNeverStarts) {
  SpawnOptions options = with_rendezvous_timeout("1.5");
  options.ranks = {1};
  const auto results = spawn_ranks(
      2, [](int) { join_and_report(); }, options);
  ASSERT_EQ(results.size(), 1u);
  const std::string head = line_after(results[0].output, "HEAD ");
  ASSERT_FALSE(head.empty()) << describe(results[0]);
  EXPECT_TRUE(Reported(results[0], "Timeout", {head}));
  // Held to its value: the head that never answers costs at most a twentieth of the timeout
  // (here the 500 ms floor) more, plus the process's start.
  EXPECT_TRUE(FinishedWithin(results[0], 1.4, 1.5 + 0.5 + 1.4));
}

// Rank 1 starts waiting 0.7 s before rank 0 (a launcher may well start them so): its deadline
// passes before the head's, and it must still learn which rank is missing.
TEST(RendezvousFailure, WaitingRanksNameTheMissingRankEvenWhenTheHeadStartedLater) {
  SpawnOptions options = with_rendezvous_timeout("2");
  options.ranks = {0, 1};
  const auto results = spawn_ranks(
      3,
      [](int rank) {
        if (rank == 0) {
          // Rank 1 is waiting once its connection is in the backlog; the 0.7 s lead starts then.
          const auto port = static_cast<std::uint16_t>(std::stoi(env_or("RINGPIPE_PORT", "0")));
          const auto deadline = Clock::now() + 15s;
          while (connections_established(port) < 1 && Clock::now() < deadline) {
            std::this_thread::sleep_for(5ms);
          }
          EXPECT_GE(connections_established(port), 1) << "rank 1 did not connect within 15 s";
          std::this_thread::sleep_for(700ms);
        }
        join_and_report();
      },
      options);
  ASSERT_EQ(results.size(), 2u);
  // Rank 1 gives up first and hears from the head that rank 2 is missing; the head, at its own
  // deadline, names rank 2 and says that rank 1 gave up.
  EXPECT_TRUE(Reported(results[1], "Timeout", {"rank 1 timed out waiting for rank 2 of 3"}));
  EXPECT_TRUE(Reported(results[0], "Timeout", {"rank 2 (rank 1 gave up waiting) of 3"}));
  for (const RankResult& result : results) EXPECT_TRUE(FinishedWithin(result, 1.9, 6.0));
}

// Rank 1 pesters the head with every kind of bad client before joining; rank 2 floods it with
// garbage connections while the ring forms. Neither may keep the ring from forming.
TEST(RendezvousRobustness, GarbageAndSilentClientsDoNotDisturbTheRing) {
  SpawnOptions options = with_rendezvous_timeout("20");
  options.timeout = 60s;
  const auto results = spawn_ranks(
      3,
      [](int rank) {
        const std::string host = env_or("RINGPIPE_HEAD", "127.0.0.1");
        const auto port = static_cast<std::uint16_t>(std::stoi(env_or("RINGPIPE_PORT", "0")));
        std::mt19937_64 random(static_cast<std::uint64_t>(rank) + 99);
        const auto random_bytes = [&random](std::size_t size) {
          Bytes bytes(size);
          for (std::byte& b : bytes) b = static_cast<std::byte>(random());
          bytes[0] = std::byte{'G'};  // never a valid magic by accident
          return bytes;
        };

        std::vector<int> keep_open;
        int silent = -1, wrong_library = -1, wrong_job = -1, out_of_range = -1;
        if (rank == 1) {
          const auto deadline = Clock::now() + 10s;
          const auto open = [&] {
            const int fd = connect_raw(host, port, deadline);
            EXPECT_GE(fd, 0) << "cannot connect to the head at " << host << ":" << port;
            if (fd >= 0) keep_open.push_back(fd);
            return fd;
          };
          const auto hello_frame = [](rendezvous::Hello hello) {
            return rendezvous::encode(hello);
          };
          // Random garbage.
          send_raw(open(), random_bytes(5000));
          // A well-formed header with the wrong magic.
          send_raw(open(), raw_header(0x12345678, rendezvous::kProtocolVersion, 1, 16));
          // A header claiming a huge payload.
          send_raw(open(),
                   raw_header(rendezvous::kMagic, rendezvous::kProtocolVersion, 1, 0xfffffff0u));
          // Silent, kept open until the ring formed.
          silent = open();
          // Half a header, then silence.
          const Bytes header = raw_header(rendezvous::kMagic, rendezvous::kProtocolVersion, 1, 10);
          send_raw(open(), Bytes(header.begin(), header.begin() + 5));
          // Connect and close at once.
          if (const int fd = connect_raw(host, port, deadline); fd >= 0) ::close(fd);
          // A Hello of an unsupported protocol version.
          Bytes future = hello_frame(plausible_hello(1));
          future[4] = std::byte{rendezvous::kProtocolVersion + 1};
          send_raw(open(), future);
          // Ready before Hello.
          send_raw(open(), rendezvous::encode_empty(rendezvous::FrameType::Ready));
          // A challenge, which only the head may send.
          send_raw(open(), raw_header(rendezvous::kMagic, rendezvous::kProtocolVersion, 6, 0));
          // A Hello without the authentication exchange.
          send_raw(open(), hello_frame(plausible_hello(1)));
          // Well-formed Hellos after authenticating (the ring has no token), which the head
          // must refuse with an Error frame, not by taking a slot.
          const std::uint64_t job = plausible_hello(1).job_id;
          const auto authenticated = [&] {
            const int fd = open();
            EXPECT_TRUE(fd >= 0 && authenticate_raw(fd, job, "")) << "authentication failed";
            return fd;
          };
          rendezvous::Hello other_library = plausible_hello(1);
          other_library.library_version = "0.0.0-impostor";
          wrong_library = authenticated();
          send_raw(wrong_library, hello_frame(other_library));
          rendezvous::Hello other_job = plausible_hello(1);
          other_job.job_id += 1;
          wrong_job = authenticated();
          send_raw(wrong_job, hello_frame(other_job));
          out_of_range = authenticated();
          send_raw(out_of_range, hello_frame(plausible_hello(7)));
        }
        std::atomic<bool> formed{false};
        std::thread flood;
        if (rank == 2) {
          flood = std::thread([&] {
            for (int i = 0; i < 200 && !formed; ++i) {
              const int fd = connect_raw(host, port, Clock::now() + 1s);
              if (fd < 0) continue;
              send_raw(fd, random_bytes(1 + random() % 300));
              ::close(fd);
            }
          });
        }

        std::optional<Ring> ring = join_and_report();
        formed = true;
        if (flood.joinable()) flood.join();
        if (ring) verify_one_round(*ring);

        if (rank == 1) {
          const auto expect_reply = [](int fd, Errc code, const std::string& part) {
            ASSERT_GE(fd, 0);
            const std::optional<rendezvous::ErrorReply> reply = read_error_reply(fd);
            ASSERT_TRUE(reply.has_value()) << "no Error frame for a Hello mentioning " << part;
            EXPECT_EQ(reply->code, static_cast<std::uint16_t>(code)) << reply->message;
            EXPECT_NE(reply->message.find(part), std::string::npos) << reply->message;
          };
          expect_reply(wrong_library, Errc::ProtocolMismatch, "0.0.0-impostor");
          expect_reply(wrong_job, Errc::InvalidArgument, "job");
          expect_reply(out_of_range, Errc::InvalidArgument, "out of range");
          // The head lets go of the silent connection once it is done.
          EXPECT_TRUE(closed_by_peer_within(silent, 5s)) << "silent connection still open";
          for (const int fd : keep_open) ::close(fd);
        }
      },
      options);
  ASSERT_EQ(results.size(), 3u);
  for (const RankResult& result : results) {
    EXPECT_TRUE(JoinedAndVerifiedARound(result));
    EXPECT_TRUE(FinishedWithin(result, 0, 20.0));
  }
}

// A client that takes a free rank with a well-formed Hello whose UCX worker address is 300
// random bytes: both of that rank's neighbours fail the rendezvous with InvalidArgument naming
// it, instead of dying inside UCX.
TEST(RendezvousRobustness, GarbageWorkerAddressFailsTheNeighboursCleanlyNamingTheSender) {
  SpawnOptions options = with_rendezvous_timeout("20");
  options.stop_on_failure = false;
  const auto results = spawn_ranks(
      3,
      [](int rank) {
        if (rank != 1) {
          (void)join_and_report();
          return;
        }
        const std::string host = env_or("RINGPIPE_HEAD", "127.0.0.1");
        const auto port = static_cast<std::uint16_t>(std::stoi(env_or("RINGPIPE_PORT", "0")));
        const int fd = connect_raw(host, port, Clock::now() + 10s);
        ASSERT_GE(fd, 0);
        rendezvous::Hello hello = plausible_hello(1);
        ASSERT_TRUE(authenticate_raw(fd, hello.job_id, ""));
        std::mt19937_64 random(300);
        hello.address.resize(300);
        for (std::byte& b : hello.address) b = static_cast<std::byte>(random());
        hello.address[0] = std::byte{0x5a};  // an address version UCX does not know
        ASSERT_TRUE(send_raw(fd, rendezvous::encode(hello)));
        EXPECT_TRUE(closed_by_peer_within(fd, 20s));  // the head gives up on the ring
        ::close(fd);
      },
      options);
  ASSERT_EQ(results.size(), 3u);
  for (const int neighbour : {0, 2}) {
    const RankResult& result = results[static_cast<std::size_t>(neighbour)];
    EXPECT_EQ(result.signal, 0) << describe(result);
    EXPECT_TRUE(Reported(result, "InvalidArgument", {"rank 1 sent a UCX worker address"}));
    EXPECT_TRUE(FinishedWithin(result, 0, 10.0));
  }
}

TEST(RendezvousInProcess, RingOfOneWithPortZeroAndNoListenFdFormsAndLoopsBackToItself) {
  Options options;
  options.world_size = 1;
  options.rendezvous_timeout = 10s;
  ASSERT_EQ(options.port, 0);
  ASSERT_EQ(options.listen_fd, -1);
  const auto start = Clock::now();
  Ring ring(options);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(ring.rank(), 0);
  EXPECT_EQ(ring.world_size(), 1);
  EXPECT_EQ(ring.succ().peer(), 0);
  EXPECT_EQ(ring.pred().peer(), 0);

  constexpr std::size_t kSize = 70000;
  std::vector<std::uint8_t> out(kSize), in(kSize);
  test::fill_pattern(out.data(), kSize, 11);
  Request receive = ring.pred().irecv(in.data(), in.size(), 4);
  ring.succ().send(out.data(), kSize, 4, 10s);
  receive.wait(10s);
  EXPECT_EQ(receive.bytes(), kSize);
  EXPECT_EQ(test::count_wrong(in.data(), kSize, 11), 0u);
}

TEST(RendezvousInProcess, PortZeroWithWorldSizeTwoAndNoListenFdIsRejectedAtRankZero) {
  Options options;
  options.world_size = 2;
  options.rank = 0;
  options.port = 0;
  options.listen_fd = -1;
  options.rendezvous_timeout = 10s;
  const auto start = Clock::now();
  try {
    Ring ring(options);
    FAIL() << "a ring of 2 formed although no other rank could learn the port";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::InvalidArgument) << error.what();
    const std::string what = error.what();
    EXPECT_NE(what.find("port 0"), std::string::npos) << what;
    EXPECT_NE(what.find("listen fd"), std::string::npos) << what;
  }
  EXPECT_LT(Clock::now() - start, 5s) << "must fail at once, not at the rendezvous timeout";
}

}  // namespace
}  // namespace ringpipe
