// The rendezvous with real rank processes on 127.0.0.1: missing, duplicate, mismatched and
// foreign ranks fail with the right Errc and a message naming the cause, within bounded time;
// garbage and silent clients do not disturb a forming ring.
//
// Each rank process joins with Options::from_env() and prints one line
//   OUTCOME <Errc name | OK> <what()>
// plus `HEAD <host>:<port>` and, when it exchanged data with its neighbours, `ROUND verified`.
// The parent then asserts per rank on the code, the message and the elapsed time.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"
#include "rendezvous/wire.hpp"
#include "ringpipe_config.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using test::RankResult;
using test::spawn_ranks;
using test::SpawnOptions;
using Clock = std::chrono::steady_clock;

// --- In the rank processes ---------------------------------------------------------------------

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

// Joins the ring the environment describes and prints the outcome; the ring if it formed.
std::optional<Ring> join_and_report() {
  print_line("HEAD " + env_or("RINGPIPE_HEAD", "?") + ":" + env_or("RINGPIPE_PORT", "?"));
  try {
    Ring ring(Options::from_env());
    print_line("OUTCOME OK");
    return std::optional<Ring>(std::move(ring));
  } catch (const Error& error) {
    print_line("OUTCOME " + std::string(to_string(error.code())) + " " + error.what());
  } catch (const std::exception& error) {
    print_line(std::string("OUTCOME NotARingpipeError ") + error.what());
  }
  return std::nullopt;
}

// One round: every rank sends a patterned message to its successor and checks the one from its
// predecessor. Prints "ROUND verified" when the data was intact.
void verify_one_round(Ring& ring) {
  constexpr std::size_t kSize = 10000;
  const int n = ring.world_size();
  const int r = ring.rank();
  std::vector<std::uint8_t> out(kSize), in(kSize + 8);
  test::fill_pattern(out.data(), kSize, 1000 + static_cast<std::uint64_t>(r));
  Request receive = ring.pred().irecv(in.data(), in.size(), 3);
  ring.succ().send(out.data(), kSize, 3, 10s);
  receive.wait(10s);
  ASSERT_EQ(receive.bytes(), kSize);
  const std::size_t wrong =
      test::count_wrong(in.data(), kSize, 1000 + static_cast<std::uint64_t>((r - 1 + n) % n));
  ASSERT_EQ(wrong, 0u) << "rank " << r << ": corrupted message from its predecessor";
  print_line("ROUND verified");
}

// --- In the parent -----------------------------------------------------------------------------

struct Outcome {
  std::string code;  // an Errc name, "OK", or "none" if the rank printed no outcome
  std::string what;
};

std::string line_after(const std::string& output, const std::string& tag) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(tag, 0) == 0) return line.substr(tag.size());
  }
  return {};
}

Outcome outcome_of(const RankResult& result) {
  const std::string rest = line_after(result.output, "OUTCOME ");
  if (rest.empty()) return {"none", ""};
  const std::size_t space = rest.find(' ');
  if (space == std::string::npos) return {rest, ""};
  return {rest.substr(0, space), rest.substr(space + 1)};
}

std::string describe(const RankResult& result) {
  std::ostringstream text;
  text << "rank " << result.rank << ": exit code " << result.exit_code << ", signal "
       << result.signal << (result.timed_out ? ", killed after the spawn timeout" : "") << ", "
       << result.seconds << " s; output:\n"
       << result.output;
  return text.str();
}

// The rank exited normally, reported `code`, and its what() is "<code>: ..." containing every
// part.
::testing::AssertionResult Reported(const RankResult& result, std::string_view code,
                                    std::initializer_list<std::string> parts) {
  const Outcome outcome = outcome_of(result);
  if (result.timed_out || result.exit_code != 0) {
    return ::testing::AssertionFailure() << "did not exit cleanly; " << describe(result);
  }
  if (outcome.code != code) {
    return ::testing::AssertionFailure()
           << "reported " << outcome.code << " instead of " << code << "; " << describe(result);
  }
  if (code != "OK" && outcome.what.rfind(std::string(code) + ": ", 0) != 0) {
    return ::testing::AssertionFailure()
           << "what() does not start with \"" << code << ": \"; " << describe(result);
  }
  for (const std::string& part : parts) {
    if (outcome.what.find(part) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "the message does not mention \"" << part << "\"; " << describe(result);
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult JoinedAndVerifiedARound(const RankResult& result) {
  ::testing::AssertionResult joined = Reported(result, "OK", {});
  if (!joined) return joined;
  if (result.output.find("ROUND verified") == std::string::npos) {
    return ::testing::AssertionFailure() << "no verified message round; " << describe(result);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult FinishedWithin(const RankResult& result, double min_s, double max_s) {
  if (result.seconds >= min_s && result.seconds < max_s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "took " << result.seconds << " s, expected [" << min_s
                                       << ", " << max_s << ") s; " << describe(result);
}

// A rank that joined and waited fails with Timeout naming the rank that never came.
::testing::AssertionResult WaitingRankTimedOutNaming(const RankResult& result,
                                                     const std::string& missing) {
  return Reported(result, "Timeout", {missing});
}

// --- Raw TCP clients (rank processes) ----------------------------------------------------------

using Bytes = std::vector<std::byte>;

// A blocking TCP connection to the head, retried until `deadline`; -1 if it never succeeded.
int connect_raw(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return -1;
  while (Clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

bool send_raw(int fd, const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads up to `size` bytes until EOF or `timeout`; what arrived.
Bytes recv_raw(int fd, std::size_t size, std::chrono::milliseconds timeout) {
  Bytes bytes;
  const auto deadline = Clock::now() + timeout;
  while (bytes.size() < size) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd entry{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) break;
    std::byte chunk[4096];
    const ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, size - bytes.size()), 0);
    if (n <= 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  return bytes;
}

// True once the peer closed `fd` (EOF or reset) within `timeout`.
bool closed_by_peer_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) continue;
    std::byte chunk[256];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return true;
    }
  }
  return false;
}

Bytes raw_header(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                 std::uint32_t size) {
  Bytes out;
  const auto put = [&out](std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
  };
  put(magic, 4);
  put(version, 2);
  put(type, 2);
  put(size, 4);
  return out;
}

// A Hello that is right in every field the head checks, for the ring in the environment.
rendezvous::Hello plausible_hello(std::uint32_t rank) {
  const Options options = Options::from_env();
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = static_cast<std::uint32_t>(options.world_size);
  hello.rank = rank;
  hello.job_id = options.job_id;
  hello.host = "impostor";
  hello.host_identity = "impostor/boot";
  hello.address = Bytes(64, std::byte{0x5a});
  return hello;
}

// The head's answer on a raw connection: an Error frame's code and message, or nullopt.
std::optional<rendezvous::ErrorReply> read_error_reply(int fd) {
  const Bytes header = recv_raw(fd, rendezvous::kHeaderSize, 10s);
  if (header.size() != rendezvous::kHeaderSize) return std::nullopt;
  try {
    const rendezvous::FrameHeader decoded = rendezvous::decode_header(header);
    if (decoded.type != rendezvous::FrameType::Error) return std::nullopt;
    const Bytes payload = recv_raw(fd, decoded.payload_size, 10s);
    return rendezvous::decode_error(payload);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// How many connections to `port` wait with unread client data (server-side sockets, accepted or
// still in the accept queue, in state ESTABLISHED with a non-empty receive queue), from
// /proc/net/tcp; -1 if that is unreadable.
int connections_with_pending_data(std::uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  if (!table) return -1;
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  std::string line;
  std::getline(table, line);  // column titles
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    const bool local_is_port = local.size() >= 5 && local.substr(local.size() - 5) == wanted;
    const std::size_t colon = queues.find(':');
    if (!local_is_port || state != "01" || colon == std::string::npos) continue;
    if (std::strtoul(queues.substr(colon + 1).c_str(), nullptr, 16) > 0) ++count;
  }
  return count;
}

// --- Tests -------------------------------------------------------------------------------------

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

TEST(RendezvousFailure, DuplicateRankIsRejectedAndTheRingStillForms) {
  SpawnOptions options = with_rendezvous_timeout("20");
  options.ranks = {0, 1, 1};
  const auto results = spawn_ranks(
      2,
      [](int rank) {
        if (rank == 0) {
          // Both rank-1 processes must have said Hello before the head starts, or the later
          // one could arrive after the ring formed (and time out instead of being rejected).
          const auto port = static_cast<std::uint16_t>(std::stoi(env_or("RINGPIPE_PORT", "0")));
          const auto deadline = Clock::now() + 15s;
          int pending = 0;
          while ((pending = connections_with_pending_data(port)) >= 0 && pending < 2 &&
                 Clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
          }
          if (pending < 0) std::this_thread::sleep_for(3s);  // no /proc: fall back to waiting
          print_line("PENDING " + std::to_string(pending));
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
  EXPECT_TRUE(Reported(loser, "InvalidArgument", {"rank 1", "already joined"}));
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
  EXPECT_TRUE(FinishedWithin(results[0], 1.4, 5.0));
}

// Rank 1 starts waiting 0.7 s before rank 0 (a launcher may well start them so): its deadline
// passes before the head's, and it must still learn which rank is missing.
TEST(RendezvousFailure, WaitingRanksNameTheMissingRankEvenWhenTheHeadStartedLater) {
  SpawnOptions options = with_rendezvous_timeout("2");
  options.ranks = {0, 1};
  const auto results = spawn_ranks(
      3,
      [](int rank) {
        if (rank == 0) std::this_thread::sleep_for(700ms);
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
          // A frame type reserved for authentication.
          send_raw(open(), raw_header(rendezvous::kMagic, rendezvous::kProtocolVersion, 6, 0));
          // Well-formed Hellos the head must refuse with an Error frame, not by taking a slot.
          rendezvous::Hello other_library = plausible_hello(1);
          other_library.library_version = "0.0.0-impostor";
          wrong_library = open();
          send_raw(wrong_library, hello_frame(other_library));
          rendezvous::Hello other_job = plausible_hello(1);
          other_job.job_id += 1;
          wrong_job = open();
          send_raw(wrong_job, hello_frame(other_job));
          out_of_range = open();
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
