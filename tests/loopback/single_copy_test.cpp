// Single copy between the ranks of one host: plain memory read with process_vm_readv, registered
// buffers copied from a mapping; sizes across the thresholds, offsets, ordering, truncation,
// the paths each edge reports, and the fallback where the system refuses the reads.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ringpipe {
namespace {

using test::count_wrong;
using test::fill_pattern;

// Small thresholds, so that the tests cross them with small messages.
constexpr std::size_t kRegisteredMin = 4096;
constexpr std::size_t kPlainMin = 16384;
constexpr std::size_t kPlainMax = 1 << 20;

test::SpawnOptions small_thresholds() {
  test::SpawnOptions options;
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_REGISTERED_MIN_BYTES"] = std::to_string(kRegisteredMin);
    env["RINGPIPE_SINGLE_COPY_MIN_BYTES"] = std::to_string(kPlainMin);
    env["RINGPIPE_SINGLE_COPY_MAX_BYTES"] = std::to_string(kPlainMax);
  };
  return options;
}

// A message buffer in plain or registered memory.
class Buffer {
 public:
  Buffer(Ring& ring, bool registered, std::size_t size) {
    if (registered) {
      registered_ = ring.allocate(size);
      data_ = static_cast<std::uint8_t*>(registered_.data());
    } else {
      plain_.resize(size);
      data_ = plain_.data();
    }
  }
  [[nodiscard]] std::uint8_t* data() const { return data_; }

 private:
  RegisteredBuffer registered_;
  std::vector<std::uint8_t> plain_;
  std::uint8_t* data_ = nullptr;
};

std::uint64_t seed_of(int from, std::size_t size, int index) {
  return (std::uint64_t(from) << 48) ^ (std::uint64_t(size) << 8) ^ std::uint64_t(index);
}

TEST(SingleCopy, EachEdgeSaysWhichPathsItsSendsTake) {
  test::run_ring(2, [](Ring& ring) {
    for (PipeGroup* edge : {&ring.pred(), &ring.succ()}) {
      const LinkInfo info = ring.link_info(*edge);
      EXPECT_TRUE(info.single_copy.registered) << info.describe();
      EXPECT_TRUE(info.single_copy.plain) << info.describe();
      EXPECT_EQ(info.single_copy.registered_min_bytes, Options().registered_min_bytes);
      EXPECT_EQ(info.single_copy.plain_min_bytes, Options().single_copy_min_bytes);
      EXPECT_EQ(info.single_copy.plain_max_bytes, Options().single_copy_max_bytes);
      EXPECT_NE(info.describe().find(
                    "single copy: registered from 64 KiB, other memory from 1 MiB to 8 MiB"),
                std::string::npos)
          << info.describe();
    }
  });
}

class SingleCopySizes : public ::testing::TestWithParam<bool> {};

// Both directions at once, from odd offsets into odd offsets, below, at and above both
// thresholds, and around the descriptor's own size.
TEST_P(SingleCopySizes, EverySizeArrivesIntactAtAnyOffsetInBothDirections) {
  const bool registered = GetParam();
  test::run_ring(
      2,
      [registered](Ring& ring) {
        const std::vector<std::size_t> sizes = {1,
                                                7,
                                                55,
                                                56,
                                                57,
                                                kRegisteredMin - 1,
                                                kRegisteredMin,
                                                kRegisteredMin + 1,
                                                kPlainMin - 1,
                                                kPlainMin,
                                                kPlainMin + 1,
                                                kPlainMax - 1,
                                                kPlainMax,
                                                kPlainMax + 1,
                                                kPlainMax + 3,
                                                (4 << 20) + 1};
        const std::size_t capacity = (4 << 20) + 64;
        Buffer out(ring, registered, capacity);
        Buffer back(ring, registered, capacity);
        std::vector<std::uint8_t> in(capacity), in_back(capacity);
        const int peer = ring.succ().peer();
        for (std::size_t i = 0; i < sizes.size(); ++i) {
          const std::size_t size = sizes[i];
          fill_pattern(out.data() + 3, size, seed_of(ring.rank(), size, 0));
          fill_pattern(back.data() + 5, size, seed_of(ring.rank(), size, 1));
          Request r1 = ring.pred().irecv(in.data() + 5, size + 7, 1);
          Request r2 = ring.succ().irecv(in_back.data() + 1, size, 2);
          Request s1 = ring.succ().isend(out.data() + 3, size, 1);
          Request s2 = ring.pred().isend(back.data() + 5, size, 2);
          r1.wait();
          r2.wait();
          s1.wait();
          s2.wait();
          ASSERT_EQ(r1.bytes(), size);
          ASSERT_EQ(r2.bytes(), size);
          ASSERT_EQ(count_wrong(in.data() + 5, size, seed_of(peer, size, 0)), 0u) << size;
          ASSERT_EQ(count_wrong(in_back.data() + 1, size, seed_of(peer, size, 1)), 0u) << size;
        }
      },
      small_thresholds());
}

INSTANTIATE_TEST_SUITE_P(Loopback, SingleCopySizes, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Registered" : "Plain"; });

// Many messages outstanding at once, registered, plain and small mixed on one edge, receives
// posted in the reverse order of the sends, both directions at once, in rings of 1, 2 and 3.
TEST(SingleCopy, ManyOutstandingMixedMessagesMatchTheirTagsInBothDirections) {
  for (const int world : {1, 2, 3}) {
    test::run_ring(
        world,
        [](Ring& ring) {
          constexpr int kCount = 24;
          const auto size_of = [](int i) -> std::size_t {
            return i % 3 == 0 ? 100 + i : i % 3 == 1 ? kRegisteredMin * 3 + i : kPlainMin * 4 + i;
          };
          std::vector<std::unique_ptr<Buffer>> out, back;
          std::vector<std::vector<std::uint8_t>> in(kCount), in_back(kCount);
          std::vector<Request> requests;
          for (int i = 0; i < kCount; ++i) {
            out.push_back(std::make_unique<Buffer>(ring, i % 2 == 0, size_of(i)));
            back.push_back(std::make_unique<Buffer>(ring, i % 2 == 1, size_of(i)));
            fill_pattern(out[i]->data(), size_of(i), seed_of(ring.rank(), size_of(i), i));
            fill_pattern(back[i]->data(), size_of(i), seed_of(ring.rank(), size_of(i), -i));
            in[i].resize(size_of(i));
            in_back[i].resize(size_of(i));
          }
          for (int i = kCount - 1; i >= 0; --i) {
            requests.push_back(ring.pred().irecv(in[i].data(), size_of(i), Tag(i)));
            requests.push_back(ring.succ().irecv(in_back[i].data(), size_of(i), Tag(i)));
          }
          for (int i = 0; i < kCount; ++i) {
            requests.push_back(ring.succ().isend(out[i]->data(), size_of(i), Tag(i)));
            requests.push_back(ring.pred().isend(back[i]->data(), size_of(i), Tag(i)));
          }
          for (Request& request : requests) request.wait();
          const int pred = ring.pred().peer();
          const int succ = ring.succ().peer();
          for (int i = 0; i < kCount; ++i) {
            EXPECT_EQ(count_wrong(in[i].data(), size_of(i), seed_of(pred, size_of(i), i)), 0u)
                << "forward message " << i;
            EXPECT_EQ(count_wrong(in_back[i].data(), size_of(i), seed_of(succ, size_of(i), -i)), 0u)
                << "backward message " << i;
          }
        },
        small_thresholds());
  }
}

// A single-copy message meets receives too small for it (even smaller than its descriptor):
// Truncated with both sizes, the sender's send completes, and the edge goes on working.
TEST(SingleCopy, TooSmallReceivesAreTruncatedStatingBothSizes) {
  test::run_ring(
      2,
      [](Ring& ring) {
        constexpr std::size_t kSize = kPlainMin * 2;
        std::vector<std::uint8_t> buffer(kSize);
        if (ring.rank() == 0) {
          for (int i = 0; i < 2; ++i) ring.succ().send(buffer.data(), kSize, 3);
          fill_pattern(buffer.data(), kSize, 9);
          ring.succ().send(buffer.data(), kSize, 4);
          return;
        }
        for (const std::size_t capacity : {std::size_t{8}, std::size_t{1000}}) {
          try {
            ring.pred().recv(buffer.data(), capacity, 3);
            ADD_FAILURE() << "a " << kSize << "-byte message fit " << capacity << " bytes";
          } catch (const Error& error) {
            EXPECT_EQ(error.code(), Errc::Truncated) << error.what();
            EXPECT_NE(std::string(error.what()).find(std::to_string(kSize)), std::string::npos)
                << error.what();
            EXPECT_NE(std::string(error.what()).find(std::to_string(capacity) + " bytes"),
                      std::string::npos)
                << error.what();
          }
        }
        EXPECT_EQ(ring.pred().recv(buffer.data(), kSize, 4), kSize);
        EXPECT_EQ(count_wrong(buffer.data(), kSize, 9), 0u);
      },
      small_thresholds());
}

// The neighbour's registered buffers, mapped here, in this process's memory map.
int mapped_ringpipe_files() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:ringpipe-") != std::string::npos) ++count;
  }
  return count;
}

// The sender frees each buffer after its send and allocates the next, which may get the same
// address and descriptor number: the receiver never reads a stale mapping, and unmaps the
// freed ones.
TEST(SingleCopy, RegisteredBuffersFreedAndReallocatedKeepTheirDataAndMappingsGo) {
  test::run_ring(
      2,
      [](Ring& ring) {
        constexpr std::size_t kSize = 256 << 10;
        std::vector<std::uint8_t> in(kSize);
        for (int i = 0; i < 6; ++i) {
          if (ring.rank() == 0) {
            RegisteredBuffer buffer = ring.allocate(kSize);
            fill_pattern(buffer.data(), kSize, seed_of(0, kSize, i));
            ring.succ().send(buffer.data(), kSize, 1);
            continue;  // freed here, then allocated again
          }
          ASSERT_EQ(ring.pred().recv(in.data(), kSize, 1), kSize);
          ASSERT_EQ(count_wrong(in.data(), kSize, seed_of(0, kSize, i)), 0u) << "message " << i;
          EXPECT_EQ(mapped_ringpipe_files(), 1) << "after message " << i;
        }
      },
      small_thresholds());
}

TEST(SingleCopy, TurnedOffOnOneRankIsOffOnBothItsEdgesAndSaysWhy) {
  test::SpawnOptions options = small_thresholds();
  const auto thresholds = options.customize;
  options.customize = [thresholds](int rank, std::map<std::string, std::string>& env) {
    thresholds(rank, env);
    if (rank == 1) env["RINGPIPE_SINGLE_COPY"] = "0";
  };
  test::run_ring(
      2,
      [](Ring& ring) {
        const LinkInfo info = ring.link_info(ring.succ());
        EXPECT_FALSE(info.single_copy.plain);
        EXPECT_FALSE(info.single_copy.registered);
        EXPECT_NE(info.describe().find("single copy off: single copy is turned off"),
                  std::string::npos)
            << info.describe();
        constexpr std::size_t kSize = 1 << 20;
        std::vector<std::uint8_t> out(kSize), in(kSize);
        fill_pattern(out.data(), kSize, ring.rank());
        Request received = ring.pred().irecv(in.data(), kSize);
        ring.succ().send(out.data(), kSize);
        received.wait();
        EXPECT_EQ(count_wrong(in.data(), kSize, ring.pred().peer()), 0u);
      },
      options);
}

// Drops CAP_SYS_PTRACE, with which root reads any process.
void drop_ptrace_capability() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_EQ(syscall(SYS_capget, &header, data), 0);
  const unsigned bit = 1u << (CAP_SYS_PTRACE % 32);
  data[CAP_SYS_PTRACE / 32].effective &= ~bit;
  data[CAP_SYS_PTRACE / 32].permitted &= ~bit;
  data[CAP_SYS_PTRACE / 32].inheritable &= ~bit;
  ASSERT_EQ(syscall(SYS_capset, &header, data), 0);
}

// The system refuses rank 1 reading rank 0 (rank 0 is not dumpable and rank 1 may not trace):
// rank 0's sends to rank 1 fall back to UCX's path and its edge says why, while rank 1's sends
// to rank 0 still move with one copy. Every message arrives intact either way.
TEST(SingleCopy, EdgeWhoseReadsTheSystemRefusesFallsBackAndSaysWhy) {
  test::SpawnOptions options = small_thresholds();
  test::spawn_ranks(
      2,
      [](int rank) {
        if (rank == 0) {
          ASSERT_EQ(prctl(PR_SET_DUMPABLE, 0), 0);
        } else {
          drop_ptrace_capability();
        }
        Ring ring(Options::from_env());
        const LinkInfo info = ring.link_info(ring.succ());
        if (rank == 0) {
          EXPECT_FALSE(info.single_copy.plain) << info.describe();
          EXPECT_FALSE(info.single_copy.registered) << info.describe();
          EXPECT_NE(info.single_copy.why_not.find("process_vm_readv"), std::string::npos)
              << info.describe();
        } else {
          EXPECT_TRUE(info.single_copy.plain) << info.describe();
          EXPECT_TRUE(info.single_copy.registered) << info.describe();
        }
        for (const bool registered : {false, true}) {
          constexpr std::size_t kSize = 1 << 20;
          Buffer out(ring, registered, kSize);
          std::vector<std::uint8_t> in(kSize);
          fill_pattern(out.data(), kSize, rank + 10 * registered);
          Request received = ring.pred().irecv(in.data(), kSize);
          ring.succ().send(out.data(), kSize);
          received.wait();
          EXPECT_EQ(count_wrong(in.data(), kSize, ring.pred().peer() + 10 * registered), 0u);
        }
      },
      options);
}

}  // namespace
}  // namespace ringpipe
