// A real ring of 4 rank processes forms and moves checked data while hostile clients in the
// parent hammer its rendezvous port the whole time, from before rank 0 listens on it until every
// rank has finished: garbage, wrong magic and version, oversized lengths, truncated frames,
// silent and dribbling connections, bursts, and well-formed Hellos the head must refuse (other
// job, rank out of range, other world size). No client claims a free rank of the right job:
// this ring runs without a token, where such a claim would legitimately take the slot (with a
// token it cannot; see ring_auth_test.cpp).
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"
#include "rendezvous/wire.hpp"
#include "rendezvous_clients.hpp"
#include "ringpipe_config.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::Bytes;

constexpr int kWorld = 4;
constexpr int kRounds = 200;
// Rank r joins r steps after rank 0, so the head serves the hostile clients for a while with
// some ranks joined and others still to come.
constexpr auto kJoinStagger = 400ms;
constexpr std::array<std::size_t, 4> kSizes = {8, 4 << 10, 64 << 10, 1 << 20};
constexpr auto kTestBound = 60s;  // spawn to last exit; generous for sanitizer builds

std::uint64_t expected_bytes_per_rank() {
  std::uint64_t total = 0;
  for (int round = 0; round < kRounds; ++round) total += kSizes[round % kSizes.size()];
  return total;
}

std::uint64_t seed_of(int sender, int round) {
  return (static_cast<std::uint64_t>(sender) << 32) | static_cast<std::uint64_t>(round);
}

// steady_clock is CLOCK_MONOTONIC, shared by the parent and the rank processes.
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The rank body: join, then kRounds of patterned messages to the successor, each one from the
// predecessor checked byte by byte.
void stream_checked_rounds(int rank) {
  std::this_thread::sleep_for(rank * kJoinStagger);
  test::print_line("JOINING " + std::to_string(now_ns()));
  std::optional<Ring> ring = test::join_and_report();
  if (!ring) return;
  test::print_line("FORMED " + std::to_string(now_ns()));
  const int n = ring->world_size();
  const int r = ring->rank();
  const int pred = (r - 1 + n) % n;
  std::vector<std::uint8_t> out(kSizes.back()), in(kSizes.back());
  std::uint64_t verified = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::size_t size = kSizes[round % kSizes.size()];
    const Tag tag = static_cast<Tag>(round % 5);
    test::fill_pattern(out.data(), size, seed_of(r, round));
    Request receive = ring->pred().irecv(in.data(), in.size(), tag);
    Request send = ring->succ().isend(out.data(), size, tag);
    receive.wait(20s);
    send.wait(20s);
    ASSERT_EQ(receive.bytes(), size) << "round " << round;
    const std::size_t wrong = test::count_wrong(in.data(), size, seed_of(pred, round));
    ASSERT_EQ(wrong, 0u) << "round " << round << ": corrupted message from rank " << pred;
    verified += size;
  }
  test::print_line("VERIFIED " + std::to_string(verified));
}

// --- Hostile clients (threads of the parent) ---------------------------------------------------

enum Kind : std::size_t {
  Garbage,
  WrongMagic,
  WrongVersion,
  OversizedHeaderLength,
  OversizedFieldLength,
  TruncatedHeader,
  TruncatedPayload,
  WrongJob,
  RankOutOfRange,
  WorldSizeMismatch,
  Slowloris,
  Burst,
  kKinds
};

constexpr std::array<const char*, kKinds> kKindNames = {
    "garbage",           "wrong magic",         "wrong version",   "oversized header length",
    "oversized field",   "truncated header",    "truncated frame", "wrong job id",
    "rank out of range", "world size mismatch", "slowloris",       "burst connection"};

// A non-blocking TCP connection to 127.0.0.1:port within `timeout`; -1 if none. Once rank 0's
// head has gone, nobody accepts and a full backlog drops SYNs: a blocking connect would hang.
int connect_within(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  pollfd entry{fd, POLLOUT, 0};
  int error = 0;
  socklen_t length = sizeof error;
  if (errno == EINPROGRESS && ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1 &&
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
    return fd;
  }
  ::close(fd);
  return -1;
}

// Never blocks: hostile frames are small, and a peer that stopped reading only loses them.
void send_quietly(int fd, const Bytes& bytes) {
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Closes with a reset instead of a FIN, the way a crashed client leaves.
void reset(int fd) {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(fd);
}

class HostileClients {
 public:
  HostileClients(std::uint16_t port, std::uint64_t job_id) : port_(port), job_id_(job_id) {
    threads_.emplace_back([this] { malformed_frames(); });
    threads_.emplace_back([this] { refused_hellos(); });
    threads_.emplace_back([this] { slowloris(); });
    threads_.emplace_back([this] { bursts(); });
  }
  HostileClients(const HostileClients&) = delete;
  HostileClients& operator=(const HostileClients&) = delete;
  ~HostileClients() { stop(); }

  void stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  // Waits until every kind of client has connected at least once, so the head meets all of
  // them in its backlog when it starts; false if that took longer than `timeout`.
  bool wait_for_every_kind(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = true;
      for (const std::atomic<int>& count : counts_) all = all && count > 0;
      if (all) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // Connections made of `kind`, in all and within [from_ns, to_ns) (CLOCK_MONOTONIC). Only
  // after stop(): each kind's times are written by one thread.
  [[nodiscard]] int made(Kind kind) const { return static_cast<int>(times_[kind].size()); }
  [[nodiscard]] int made_between(Kind kind, std::int64_t from_ns, std::int64_t to_ns) const {
    int count = 0;
    for (const std::int64_t t : times_[kind]) count += t >= from_ns && t < to_ns;
    return count;
  }
  [[nodiscard]] int failed_connects() const { return failed_connects_; }

  [[nodiscard]] std::string summary(std::int64_t head_ns, std::int64_t formed_ns) const {
    std::ostringstream text;
    int total = 0;
    for (std::size_t kind = 0; kind < kKinds; ++kind) {
      const auto k = static_cast<Kind>(kind);
      text << "  " << kKindNames[kind] << ": " << made(k) << " (" << made_between(k, 0, head_ns)
           << " before rank 0 started, " << made_between(k, head_ns, formed_ns)
           << " while the ring formed, " << made_between(k, formed_ns, INT64_MAX) << " after)\n";
      total += made(k);
    }
    text << "  total: " << total << " connections; " << failed_connects_
         << " connects refused or timed out (nobody accepts once the ring formed)\n";
    return text.str();
  }

 private:
  // Connects; records when a connection of `kind` was made.
  int open(Kind kind) {
    const int fd = connect_within(port_, 300ms);
    if (fd < 0) {
      ++failed_connects_;
      std::this_thread::sleep_for(5ms);
      return -1;
    }
    times_[kind].push_back(now_ns());
    ++counts_[kind];
    return fd;
  }

  rendezvous::Hello hello(std::uint32_t world_size, std::uint32_t rank, std::uint64_t job) const {
    rendezvous::Hello hello;
    hello.library_version = RINGPIPE_VERSION;
    hello.world_size = world_size;
    hello.rank = rank;
    hello.job_id = job;
    hello.host = "hostile";
    hello.host_identity = "hostile/boot";
    hello.address = Bytes(64, std::byte{0x5a});
    return hello;
  }

  Bytes valid_header_with_payload(std::uint32_t size) const {
    return test::raw_header(rendezvous::kMagic, rendezvous::kProtocolVersion,
                            static_cast<std::uint16_t>(rendezvous::FrameType::Hello), size);
  }

  // Frames the decoder must reject, one connection each, round robin.
  void malformed_frames() {
    std::mt19937_64 random(1);
    const Bytes good = rendezvous::encode(hello(kWorld, 1, job_id_ + 1));
    for (std::size_t i = 0; !stop_; ++i) {
      const auto kind = static_cast<Kind>(i % (TruncatedPayload + 1));
      const int fd = open(kind);
      if (fd < 0) continue;
      Bytes bytes;
      switch (kind) {
        case Garbage:
          bytes.resize(1 + random() % 3000);
          for (std::byte& b : bytes) b = static_cast<std::byte>(random());
          bytes[0] = std::byte{'G'};  // never the magic by accident
          break;
        case WrongMagic:
          bytes = good;
          bytes[0] = std::byte{'X'};
          break;
        case WrongVersion:
          bytes = good;
          bytes[4] = std::byte{rendezvous::kProtocolVersion + 1};
          break;
        case OversizedHeaderLength:
          bytes = valid_header_with_payload(i % 2 ? 0xffffffffu : rendezvous::kMaxPayload + 1);
          break;
        case OversizedFieldLength:
          // The payload's first field (the library version string) claims 4 GiB.
          bytes = good;
          for (std::size_t b = 0; b < 4; ++b) bytes[rendezvous::kHeaderSize + b] = std::byte{0xff};
          break;
        case TruncatedHeader:
          bytes.assign(good.begin(), good.begin() + 1 + static_cast<long>(i % 11));
          break;
        case TruncatedPayload:
          bytes.assign(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
          break;
        default:
          break;
      }
      send_quietly(fd, bytes);
      if (i % 3 == 0) {
        reset(fd);
      } else {
        ::close(fd);
      }
      std::this_thread::sleep_for(2ms);
    }
  }

  // Well-formed Hellos of another job, an impossible rank or another world size: refused
  // with an Error frame, never given a slot.
  void refused_hellos() {
    for (std::uint32_t i = 0; !stop_; ++i) {
      const auto kind = static_cast<Kind>(WrongJob + i % 3);
      const int fd = open(kind);
      if (fd < 0) continue;
      const std::uint32_t rank = i % kWorld;
      // Authenticated first (this ring has no token), so the Hello reaches the head's checks of
      // job, rank and world size rather than being refused for coming unannounced.
      const std::uint64_t job = kind == WrongJob ? job_id_ ^ (1u + i) : job_id_;
      if (!test::authenticate_raw(fd, job, "", 300ms)) {
        ::close(fd);
        continue;
      }
      switch (kind) {
        case WrongJob:
          send_quietly(fd, rendezvous::encode(hello(kWorld, rank, job)));
          break;
        case RankOutOfRange:
          send_quietly(
              fd, rendezvous::encode(hello(kWorld, i % 2 ? kWorld + i % 7 : 0xffffffffu, job_id_)));
          break;
        case WorldSizeMismatch:
          send_quietly(fd, rendezvous::encode(hello(kWorld + 1 + i % 4, rank, job_id_)));
          break;
        default:
          break;
      }
      // Sometimes wait for the verdict, sometimes leave before the head can answer.
      if (i % 2 == 0) test::closed_by_peer_within(fd, 20ms);
      ::close(fd);
      std::this_thread::sleep_for(3ms);
    }
  }

  // Up to 24 connections held open at once: silent ones, and ones that dribble a Hello's first
  // bytes one at a time, each replaced after ~2 s.
  void slowloris() {
    struct Held {
      int fd;
      std::size_t sent;
      Clock::time_point opened;
    };
    const Bytes frame = rendezvous::encode(hello(kWorld, 2, job_id_ + 7));
    std::deque<Held> held;
    for (std::size_t i = 0; !stop_; ++i) {
      while (!held.empty() && Clock::now() - held.front().opened > 2s) {
        ::close(held.front().fd);
        held.pop_front();
      }
      if (held.size() < 24) {
        if (const int fd = open(Slowloris); fd >= 0) held.push_back({fd, 0, Clock::now()});
      }
      for (std::size_t h = 0; h < held.size(); h += 2) {  // every other one stays silent
        Held& one = held[h];
        if (one.sent < frame.size() / 2) {
          send_quietly(one.fd, Bytes{frame[one.sent]});
          ++one.sent;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    for (const Held& one : held) ::close(one.fd);
  }

  // Every 250 ms, 48 connections at once, then all dropped (half with a byte of garbage).
  void bursts() {
    while (!stop_) {
      std::vector<int> fds;
      for (int i = 0; i < 48 && !stop_; ++i) {
        const int fd = open(Burst);
        if (fd < 0) continue;
        if (i % 2) send_quietly(fd, Bytes{std::byte{0}});
        fds.push_back(fd);
      }
      for (const int fd : fds) ::close(fd);
      for (int i = 0; i < 25 && !stop_; ++i) std::this_thread::sleep_for(10ms);
    }
  }

  std::uint16_t port_;
  std::uint64_t job_id_;
  std::atomic<bool> stop_{false};
  std::array<std::vector<std::int64_t>, kKinds> times_;
  std::array<std::atomic<int>, kKinds> counts_{};
  std::atomic<int> failed_connects_{0};
  std::vector<std::thread> threads_;  // last: they use everything above
};

TEST(HostileRendezvous, RingFormsAndMovesCheckedDataWhileHostileClientsHammerThePort) {
  std::random_device device;
  const std::uint64_t job_id = (std::uint64_t{device()} << 32) | device();
  std::unique_ptr<HostileClients> hostile;

  test::SpawnOptions options;
  options.timeout = kTestBound;
  options.customize = [job_id](int, auto& env) {
    env["RINGPIPE_JOB_ID"] = std::to_string(job_id);
    env["RINGPIPE_RENDEZVOUS_TIMEOUT_S"] = "30";
    env["RINGPIPE_LOG"] = "error";  // the head logs every refused client as a warning
  };
  const auto start = Clock::now();
  options.on_listening = [&](std::uint16_t port) {
    hostile = std::make_unique<HostileClients>(port, job_id);
    EXPECT_TRUE(hostile->wait_for_every_kind(5s)) << "some hostile clients could not connect";
  };
  const auto results = test::spawn_ranks(kWorld, stream_checked_rounds, options);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_NE(hostile, nullptr);
  hostile->stop();

  ASSERT_EQ(results.size(), static_cast<std::size_t>(kWorld));
  std::int64_t formed_ns = INT64_MAX;
  for (const test::RankResult& result : results) {
    EXPECT_TRUE(test::Reported(result, "OK", {})) << "the ring did not form";
    const std::string formed = test::line_after(result.output, "FORMED ");
    if (!formed.empty()) formed_ns = std::min<std::int64_t>(formed_ns, std::stoll(formed));
    EXPECT_EQ(test::line_after(result.output, "VERIFIED "),
              std::to_string(expected_bytes_per_rank()))
        << "not every byte arrived intact; " << test::describe(result);
  }
  const double bound_s = std::chrono::duration<double>(kTestBound).count();
  EXPECT_LT(elapsed, bound_s) << "the ring took too long under attack";
  const std::string head = test::line_after(results[0].output, "JOINING ");
  ASSERT_FALSE(head.empty()) << test::describe(results[0]);
  const std::int64_t head_ns = std::stoll(head);

  std::printf(
      "ring of %d formed %.2f s after rank 0 started and moved %llu checked bytes per rank; "
      "%.2f s in all. Hostile connections:\n%s",
      kWorld, static_cast<double>(formed_ns - head_ns) / 1e9,
      static_cast<unsigned long long>(expected_bytes_per_rank()), elapsed,
      hostile->summary(head_ns, formed_ns).c_str());
  // The head met every kind of client while it was running, not only in its backlog.
  for (std::size_t kind = 0; kind < kKinds; ++kind) {
    EXPECT_GT(hostile->made_between(static_cast<Kind>(kind), head_ns, formed_ns), 0)
        << kKindNames[kind] << " never reached the head while the ring formed";
  }
}

}  // namespace
}  // namespace ringpipe
