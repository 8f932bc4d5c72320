// A real ring of processes on 127.0.0.1: edges, directions, sizes, tags and ordering.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using test::count_wrong;
using test::fill_pattern;
using test::run_ring;

// Seed of the message rank `from` sends in `direction` (0 forward, 1 backward) with `tag`.
std::uint64_t seed_of(int from, int direction, Tag tag, int index = 0) {
  return (std::uint64_t(from) << 40) ^ (std::uint64_t(direction) << 32) ^
         (std::uint64_t(tag) << 8) ^ std::uint64_t(index);
}

// Every rank sends to its successor and receives from its predecessor, then the reverse.
void exchange_both_directions(Ring& ring, std::size_t size) {
  const int n = ring.world_size();
  const int r = ring.rank();
  const int pred = (r - 1 + n) % n;
  const int succ = (r + 1) % n;
  std::vector<std::uint8_t> out(size), in(size + 16);

  fill_pattern(out.data(), size, seed_of(r, 0, 5));
  Request receive = ring.pred().irecv(in.data(), in.size(), 5);
  Request send = ring.succ().isend(out.data(), size, 5);
  receive.wait();
  send.wait();
  ASSERT_EQ(receive.bytes(), size);
  ASSERT_EQ(count_wrong(in.data(), size, seed_of(pred, 0, 5)), 0u) << "forward, size " << size;

  fill_pattern(out.data(), size, seed_of(r, 1, 5));
  receive = ring.succ().irecv(in.data(), in.size(), 5);
  send = ring.pred().isend(out.data(), size, 5);
  send.wait();
  receive.wait();
  ASSERT_EQ(receive.bytes(), size);
  ASSERT_EQ(count_wrong(in.data(), size, seed_of(succ, 1, 5)), 0u) << "backward, size " << size;
}

class RingOfSize : public ::testing::TestWithParam<int> {};

TEST_P(RingOfSize, EveryRankReceivesItsPredecessorsMessageInBothDirections) {
  run_ring(GetParam(), [](Ring& ring) {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{1} << 20}) {
      exchange_both_directions(ring, size);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Loopback, RingOfSize, ::testing::Values(1, 2, 3, 4, 8));

class MessageSize : public ::testing::TestWithParam<std::size_t> {};

// Sizes that cross UCX's protocol thresholds (short, eager copy, zero-copy, rendezvous).
TEST_P(MessageSize, ArrivesIntactInRingsOfTwoAndThree) {
  for (const int world : {2, 3}) {
    run_ring(world, [](Ring& ring) { exchange_both_directions(ring, GetParam()); });
  }
}

INSTANTIATE_TEST_SUITE_P(Loopback, MessageSize,
                         ::testing::Values(0, 1, 8, 4096, 65536, 1 << 20, 64 << 20));

TEST(RingLoopback, TwoRanksHaveTwoDistinctEdges) {
  run_ring(2, [](Ring& ring) {
    const int r = ring.rank();
    std::uint64_t via_succ = 0x5cc + static_cast<std::uint64_t>(r);
    std::uint64_t via_pred = 0x9ed + static_cast<std::uint64_t>(r);
    std::uint64_t got_on_pred = 0, got_on_succ = 0;
    // Same tag on both edges: only the edge tells the two messages apart.
    Request a = ring.pred().irecv(&got_on_pred, sizeof got_on_pred, 1);
    Request b = ring.succ().irecv(&got_on_succ, sizeof got_on_succ, 1);
    ring.succ().send(&via_succ, sizeof via_succ, 1);
    ring.pred().send(&via_pred, sizeof via_pred, 1);
    a.wait();
    b.wait();
    const auto other = static_cast<std::uint64_t>(1 - r);
    EXPECT_EQ(got_on_pred, 0x5cc + other) << "pred() must carry what the other rank sent on succ()";
    EXPECT_EQ(got_on_succ, 0x9ed + other) << "succ() must carry what the other rank sent on pred()";
  });
}

TEST(RingLoopback, ManyOutstandingTaggedRequestsPostedInDifferentOrders) {
  run_ring(3, [](Ring& ring) {
    constexpr int kTags = 32;
    constexpr std::size_t kSize = 3000;
    const int n = ring.world_size();
    const int r = ring.rank();
    std::vector<std::vector<std::uint8_t>> out(2 * kTags, std::vector<std::uint8_t>(kSize));
    std::vector<std::vector<std::uint8_t>> in(2 * kTags, std::vector<std::uint8_t>(kSize));
    std::vector<Request> requests;
    std::vector<int> order(kTags);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 random(static_cast<unsigned>(r));

    // Receives in reverse tag order on pred, shuffled order on succ.
    for (int i = kTags - 1; i >= 0; --i) {
      requests.push_back(ring.pred().irecv(in[i].data(), kSize, static_cast<Tag>(i)));
    }
    std::shuffle(order.begin(), order.end(), random);
    for (const int i : order) {
      requests.push_back(ring.succ().irecv(in[kTags + i].data(), kSize, static_cast<Tag>(i)));
    }
    // Sends in forward order on succ, another shuffle on pred.
    for (int i = 0; i < kTags; ++i) {
      fill_pattern(out[i].data(), kSize, seed_of(r, 0, static_cast<Tag>(i)));
      requests.push_back(ring.succ().isend(out[i].data(), kSize, static_cast<Tag>(i)));
    }
    std::shuffle(order.begin(), order.end(), random);
    for (const int i : order) {
      fill_pattern(out[kTags + i].data(), kSize, seed_of(r, 1, static_cast<Tag>(i)));
      requests.push_back(ring.pred().isend(out[kTags + i].data(), kSize, static_cast<Tag>(i)));
    }
    std::shuffle(requests.begin(), requests.end(), random);
    for (Request& request : requests) request.wait();
    for (int i = 0; i < kTags; ++i) {
      EXPECT_EQ(count_wrong(in[i].data(), kSize, seed_of((r - 1 + n) % n, 0, static_cast<Tag>(i))),
                0u)
          << "tag " << i << " from pred";
      EXPECT_EQ(
          count_wrong(in[kTags + i].data(), kSize, seed_of((r + 1) % n, 1, static_cast<Tag>(i))),
          0u)
          << "tag " << i << " from succ";
    }
  });
}

TEST(RingLoopback, MessagesWithOneTagArriveInSendOrder) {
  run_ring(2, [](Ring& ring) {
    constexpr int kMessages = 200;
    const int r = ring.rank();
    std::vector<std::vector<std::uint8_t>> out(kMessages), in(kMessages);
    std::vector<Request> sends, receives;
    for (int i = 0; i < kMessages; ++i) {
      // Mixed sizes, so small messages could overtake large ones if ordering were broken.
      const std::size_t size = (i % 3 == 0) ? (256u << 10) : 64u;
      out[i].resize(size);
      in[i].resize(size);
      fill_pattern(out[i].data(), size, seed_of(r, 0, 7, i));
      receives.push_back(ring.pred().irecv(in[i].data(), size, 7));
    }
    for (int i = 0; i < kMessages; ++i)
      sends.push_back(ring.succ().isend(out[i].data(), out[i].size(), 7));
    for (auto& request : receives) request.wait();
    for (auto& request : sends) request.wait();
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_EQ(count_wrong(in[i].data(), in[i].size(), seed_of(1 - r, 0, 7, i)), 0u)
          << "message " << i << " out of order or corrupted";
    }
  });
}

TEST(RingLoopback, OversizedMessageFailsWithTruncatedStatingBothSizes) {
  run_ring(2, [](Ring& ring) {
    std::vector<std::uint8_t> buffer(1000);
    if (ring.rank() == 0) {
      ring.succ().send(buffer.data(), 1000, 3);
      // The edge still works after the receiver's truncation.
      ring.succ().send(buffer.data(), 10, 4);
      return;
    }
    try {
      ring.pred().recv(buffer.data(), 100, 3);
      ADD_FAILURE() << "a 1000-byte message fit a 100-byte buffer";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::Truncated);
      EXPECT_NE(std::string(error.what()).find("1000"), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("100 bytes"), std::string::npos) << error.what();
    }
    EXPECT_EQ(ring.pred().recv(buffer.data(), buffer.size(), 4), 10u);
  });
}

TEST(RingLoopback, CudaStreamInCpuModeIsInvalidArgumentNamingTheEdge) {
  run_ring(1, [](Ring& ring) {
    std::uint64_t value = 0;
    int not_a_stream = 0;
    const Stream stream{&not_a_stream};
    for (auto* call :
         {+[](Ring&r, std::uint64_t*v, Stream s) { (void)r.succ().isend(v, sizeof *v, 1, s); },
          +[](Ring&r, std::uint64_t*v, Stream s) { (void)r.pred().irecv(v, sizeof *v, 1, s); }}) {
      try {
        call(ring, &value, stream);
        ADD_FAILURE() << "a CPU-mode ring took a CUDA stream";
      } catch (const Error& error) {
        EXPECT_EQ(error.code(), Errc::InvalidArgument);
        EXPECT_NE(std::string(error.what()).find("CUDA stream"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("rank 0"), std::string::npos) << error.what();
      }
    }
    // Host edges are the same edges in CPU mode, and the ring still works.
    EXPECT_EQ(&ring.host_succ(), &ring.succ());
    EXPECT_EQ(&ring.host_pred(), &ring.pred());
    value = 7;
    Request received = ring.pred().irecv(&value, sizeof value, 2);
    std::uint64_t sent = 99;
    ring.succ().send(&sent, sizeof sent, 2);
    received.wait();
    EXPECT_EQ(value, 99u);
  });
}

TEST(RingLoopback, ReceiveTimeoutNamesTheEdgeAndLeavesItUsable) {
  run_ring(2, [](Ring& ring) {
    std::uint64_t value = 0;
    if (ring.rank() == 1) {
      const auto start = std::chrono::steady_clock::now();
      try {
        ring.pred().recv(&value, sizeof value, 9, std::chrono::milliseconds(300));
        ADD_FAILURE() << "a receive with no sender completed";
      } catch (const Error& error) {
        EXPECT_EQ(error.code(), Errc::Timeout);
        EXPECT_NE(std::string(error.what()).find("rank 1 <- pred 0 tag 9"), std::string::npos)
            << error.what();
      }
      const auto elapsed = std::chrono::steady_clock::now() - start;
      EXPECT_GE(elapsed, std::chrono::milliseconds(290));
      EXPECT_LT(elapsed, std::chrono::seconds(3));
    }
    // The cancelled receive took nothing: the next message on tag 9 goes to the next receive.
    if (ring.rank() == 0) {
      ring.succ().recv(&value, sizeof value, 10);  // rank 1 has timed out
      value = 42;
      ring.succ().send(&value, sizeof value, 9);
    } else {
      ring.pred().send(&value, sizeof value, 10);
      EXPECT_EQ(ring.pred().recv(&value, sizeof value, 9), sizeof value);
      EXPECT_EQ(value, 42u);
    }
  });
}

TEST(RingLoopback, SendTimeoutFailsTheLinkAndHandsTheBufferBack) {
  run_ring(2, [](Ring& ring) {
    if (ring.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(1));  // never receives
      return;
    }
    // Large enough for UCX's rendezvous protocol: the send cannot finish without a receiver.
    constexpr std::size_t kSize = 16 << 20;
    auto buffer = std::make_unique<std::uint8_t[]>(kSize);
    const auto start = std::chrono::steady_clock::now();
    try {
      ring.succ().send(buffer.get(), kSize, 1, std::chrono::milliseconds(300));
      ADD_FAILURE() << "a send with no receiver completed";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::Timeout) << error.what();
      EXPECT_NE(std::string(error.what()).find("send on rank 0 -> succ 1 tag 1 size 16777216"),
                std::string::npos)
          << error.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
    // Freed: the transport no longer uses it (under AddressSanitizer a later write is caught).
    buffer.reset();
    // The failure is sticky, and reaches the other edge to the same neighbour.
    std::uint64_t value = 0;
    for (PipeGroup* edge : {&ring.succ(), &ring.pred()}) {
      try {
        edge->send(&value, sizeof value, 2, std::chrono::seconds(5));
        ADD_FAILURE() << "sent on a failed link";
      } catch (const Error& error) {
        EXPECT_EQ(error.code(), Errc::Timeout) << error.what();
      }
    }
  });
}

TEST(RingLoopback, DestroyedUnfinishedReceiveNeverTouchesItsBufferOrItsMessage) {
  run_ring(2, [](Ring& ring) {
    constexpr std::size_t kSize = 1 << 20;
    std::uint8_t go = 1;
    if (ring.rank() == 0) {
      ring.succ().recv(&go, sizeof go, 2);  // rank 1 has dropped its first receive
      std::vector<std::uint8_t> out(kSize);
      fill_pattern(out.data(), kSize, 11);
      ring.succ().send(out.data(), kSize, 1);
      return;
    }
    {
      auto doomed = std::make_unique<std::vector<std::uint8_t>>(kSize);
      Request dropped = ring.pred().irecv(doomed->data(), kSize, 1);
      // `dropped` goes first, then its buffer: under AddressSanitizer a later write is caught.
    }
    ring.pred().send(&go, sizeof go, 2);
    std::vector<std::uint8_t> in(kSize);
    EXPECT_EQ(ring.pred().recv(in.data(), kSize, 1), kSize);
    EXPECT_EQ(count_wrong(in.data(), kSize, 11), 0u) << "the cancelled receive took the message";
  });
}

TEST(RingLoopback, RequestOutlivingItsRingFailsWithClosed) {
  Options options;  // one rank: a self-loop in this process
  auto ring = std::make_unique<Ring>(options);
  std::uint64_t value = 0;
  Request pending = ring->pred().irecv(&value, sizeof value, 4);
  ring.reset();
  try {
    pending.wait(std::chrono::seconds(1));
    ADD_FAILURE() << "a receive completed on a destroyed ring";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::Closed) << error.what();
  }
}

TEST(RingLoopback, TestPollsARequestToCompletion) {
  run_ring(2, [](Ring& ring) {
    std::vector<std::uint8_t> buffer(1 << 20);
    fill_pattern(buffer.data(), buffer.size(), 77);
    if (ring.rank() == 0) {
      ring.succ().send(buffer.data(), buffer.size());
      return;
    }
    std::vector<std::uint8_t> in(buffer.size());
    Request request = ring.pred().irecv(in.data(), in.size());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!request.test()) ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    EXPECT_EQ(count_wrong(in.data(), in.size(), 77), 0u);
  });
}

class ProgressModeRing : public ::testing::TestWithParam<const char*> {};

TEST_P(ProgressModeRing, EightRanksOnTwoCoresCompleteTheirTrafficPromptly) {
  test::SpawnOptions options;
  options.customize = [](int, auto& env) { env["RINGPIPE_PROGRESS"] = GetParam(); };
  const auto results = test::spawn_ranks(
      8,
      [](int) {
        // Two cores whatever the machine: more ranks than cores is the case under test.
        cpu_set_t two_cores;
        CPU_ZERO(&two_cores);
        CPU_SET(0, &two_cores);
        CPU_SET(1 % std::max(1, static_cast<int>(std::thread::hardware_concurrency())), &two_cores);
        ASSERT_EQ(sched_setaffinity(0, sizeof two_cores, &two_cores), 0);
        Ring ring(Options::from_env());
        const auto start = std::chrono::steady_clock::now();
        for (int step = 0; step < 50; ++step) exchange_both_directions(ring, 64 << 10);
        const std::chrono::duration<double> taken = std::chrono::steady_clock::now() - start;
        // Measured here: ~0.15 s in each mode; 5 s leaves room for a loaded CI machine while
        // still catching ranks that starve each other (busy polling without yielding: ~10x).
        EXPECT_LT(taken.count(), 5.0) << GetParam() << " mode";
      },
      options);
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

INSTANTIATE_TEST_SUITE_P(Loopback, ProgressModeRing,
                         ::testing::Values("busy", "blocking", "adaptive"));

TEST(RingLoopback, ClosedNeighbourFailsLaterOperationsWithClosed) {
  run_ring(2, [](Ring& ring) {
    std::uint64_t value = 7;
    if (ring.rank() == 0) {
      ring.succ().send(&value, sizeof value);
      return;  // rank 0's ring closes here, after its message was delivered
    }
    EXPECT_EQ(ring.pred().recv(&value, sizeof value), sizeof value);
    EXPECT_EQ(value, 7u);
    try {
      ring.pred().recv(&value, sizeof value, 0, std::chrono::seconds(10));
      ADD_FAILURE() << "received from a closed neighbour";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::Closed) << error.what();
    }
  });
}

TEST(RingLoopback, CleanShutdownOfAllRanksReportsNothing) {
  const auto results = test::spawn_ranks(4, [](int) {
    Ring ring(Options::from_env());
    // Before the traffic: once it is done, a neighbour may have closed the link already.
    const LinkInfo link = ring.link_info(ring.succ());
    exchange_both_directions(ring, 1 << 20);
    EXPECT_EQ(link.peer, ring.succ().peer());
    EXPECT_EQ(link.data_path, DataPath::Host);
    EXPECT_FALSE(link.transports.empty()) << link.describe();
    EXPECT_EQ(link.describe().rfind("host over ucx: ", 0), 0u) << link.describe();
  });
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
    // Neither ringpipe nor UCX may complain about an orderly close.
    for (const char* complaint : {"WARNING", "ERROR", "WARN ", "Error"}) {
      EXPECT_EQ(result.output.find(complaint), std::string::npos) << "rank " << result.rank << ":\n"
                                                                  << result.output;
    }
  }
}

}  // namespace
}  // namespace ringpipe
