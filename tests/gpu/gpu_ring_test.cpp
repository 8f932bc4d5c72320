// GPU mode on a real GPU: rings of 1, 2 and 4 processes sharing one device, every byte checked.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "device_buffer.hpp"
#include "expect_error.hpp"
#include "gpu_traffic.hpp"
#include "multiproc.hpp"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace ringpipe {
namespace {

using test::DeviceBuffer;
using test::expect_error;

constexpr std::size_t kMiB = std::size_t{1} << 20;

// Every rank on device 0: what a machine with one GPU can test.
test::SpawnOptions on_one_gpu(std::chrono::seconds timeout = std::chrono::seconds(120)) {
  test::SpawnOptions options;
  options.timeout = timeout;
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_COMM_DEVICE"] = "gpu";
    env["RINGPIPE_LOCAL_RANK"] = "0";
  };
  return options;
}

void run_gpu_ring(int world_size, const std::function<void(Ring&)>& body,
                  test::SpawnOptions options = on_one_gpu()) {
  test::run_ring(world_size, body, options);
}

std::uint64_t seed_of(int from, Tag tag, std::size_t size) {
  return test::gpu_seed(from, tag, size);
}

class GpuRingOfSize : public ::testing::TestWithParam<int> {};

TEST_P(GpuRingOfSize, EveryRankGetsItsPredecessorsDeviceBufferFromZeroBytesTo256MiB) {
  run_gpu_ring(GetParam(), [](Ring& ring) {
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{4097},
                             std::size_t{64 * 1024}, kMiB, 16 * kMiB, 256 * kMiB}) {
      test::exchange_on_stream(ring, size, stream);
    }
    // The default stream too, which serving code that passes none uses.
    test::exchange_on_stream(ring, kMiB + 3, nullptr);
    ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  });
}

// Messages matched together are copied by one kernel; 4 MiB + 5 bytes also takes its tail path.
TEST_P(GpuRingOfSize, CopiesComeAfterTheWorkEnqueuedBeforeBothPostsOnEveryStream) {
  run_gpu_ring(GetParam(), [](Ring& ring) {
    for (int round = 0; round < 3; ++round) {
      test::exchange_behind_stream_work(ring, 9, 4 * kMiB + 5);
    }
  });
}

TEST(GpuRing, WithoutTheCopyKernelTheCopyEngineTakesEveryMessage) {
  test::SpawnOptions options = on_one_gpu();
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_COMM_DEVICE"] = "gpu";
    env["RINGPIPE_LOCAL_RANK"] = "0";
    env["RINGPIPE_GPU_COPY_KERNEL"] = "0";
  };
  run_gpu_ring(
      2,
      [](Ring& ring) {
        test::exchange_behind_stream_work(ring, 9, 4 * kMiB + 5);
        test::exchange_tags_in_reverse(ring, 8, 256 * 1024);
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Ranks, GpuRingOfSize, ::testing::Values(1, 2, 4));

TEST(GpuRing, LinkInfoNamesTheCudaIpcPath) {
  run_gpu_ring(2, [](Ring& ring) {
    const LinkInfo info = ring.link_info(ring.succ());
    EXPECT_EQ(info.data_path, DataPath::CudaIpc) << info.describe();
    EXPECT_NE(ring.succ().describe().find("cuda-ipc"), std::string::npos);
  });
}

TEST(GpuRing, TaggedMessagesPostedInAnyOrderMatchByTag) {
  run_gpu_ring(2, [](Ring& ring) { test::exchange_tags_in_reverse(ring, 8, 256 * 1024); });
}

TEST(GpuRing, RepeatedTrafficReusesBuffersWithoutGrowingState) {
  run_gpu_ring(2, [](Ring& ring) {
    const std::size_t size = kMiB;
    const int pred = (ring.rank() + 1) % 2;
    DeviceBuffer out(size), in(size);
    for (int i = 0; i < 200; ++i) {
      out.fill(size, seed_of(ring.rank(), i, size));
      Request received = ring.pred().irecv(in.data(), size, 1);
      ring.succ().send(out.data(), size, 1);
      received.wait();
      ASSERT_EQ(in.count_wrong(size, seed_of(pred, i, size)), 0u) << "iteration " << i;
    }
  });
}

TEST(GpuRing, TooSmallReceiveBufferFailsBothSidesWithTruncated) {
  run_gpu_ring(2, [](Ring& ring) {
    DeviceBuffer out(4096), in(1024);
    Request received = ring.pred().irecv(in.data(), in.size(), 2);
    Request sent = ring.succ().isend(out.data(), out.size(), 2);
    expect_error(Errc::Truncated, "4096", [&] { received.wait(); });
    expect_error(Errc::Truncated, "1024", [&] { sent.wait(); });
  });
}

TEST(GpuRing, ReceiveTimeoutNamesTheOperationAndLeavesTheEdgeUsable) {
  run_gpu_ring(2, [](Ring& ring) {
    DeviceBuffer buffer(4096);
    char step = 0;
    if (ring.rank() == 1) {
      const auto start = std::chrono::steady_clock::now();
      expect_error(Errc::Timeout, "rank 1 <- pred 0 tag 9 size 4096", [&] {
        ring.pred().recv(buffer.data(), buffer.size(), 9, std::chrono::milliseconds(300));
      });
      const auto elapsed = std::chrono::steady_clock::now() - start;
      EXPECT_GE(elapsed, std::chrono::milliseconds(290));
      EXPECT_LT(elapsed, std::chrono::seconds(3));
      ring.host_pred().send(&step, 1, 1);  // rank 0 may send now
      buffer.fill(0, 0);
      EXPECT_EQ(ring.pred().recv(buffer.data(), buffer.size(), 9), 4096u);
      EXPECT_EQ(buffer.count_wrong(4096, seed_of(0, 9, 4096)), 0u);
    } else {
      ring.host_succ().recv(&step, 1, 1);
      buffer.fill(4096, seed_of(0, 9, 4096));
      ring.succ().send(buffer.data(), buffer.size(), 9);
    }
  });
}

TEST(GpuRing, SendTimeoutFailsTheLinkWithTimeoutNamingIt) {
  run_gpu_ring(2, [](Ring& ring) {
    DeviceBuffer buffer(4096);
    if (ring.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(1));  // never receives
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    expect_error(Errc::Timeout, "send on rank 0 -> succ 1 tag 5 size 4096", [&] {
      ring.succ().send(buffer.data(), buffer.size(), 5, std::chrono::milliseconds(300));
    });
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
    // The failure is sticky, and reaches the other edge to the same neighbour.
    for (PipeGroup* edge : {&ring.succ(), &ring.pred()}) {
      expect_error(Errc::Timeout, "",
                   [&] { edge->send(buffer.data(), 8, 6, std::chrono::seconds(5)); });
    }
  });
}

TEST(GpuRing, HostMemoryInGpuModeIsInvalidArgument) {
  run_gpu_ring(1, [](Ring& ring) {
    std::vector<char> host(1024);
    expect_error(Errc::InvalidArgument, "host memory",
                 [&] { (void)ring.succ().isend(host.data(), host.size()); });
    expect_error(Errc::InvalidArgument, "host memory",
                 [&] { (void)ring.pred().irecv(host.data(), host.size()); });
  });
}

TEST(GpuRing, DeviceMemoryInCpuModeIsInvalidArgument) {
  test::run_ring(1, [](Ring& ring) {
    ASSERT_EQ(ring.comm_device(), CommDevice::Cpu);
    DeviceBuffer device(1024);
    expect_error(Errc::InvalidArgument, "CUDA device memory",
                 [&] { (void)ring.succ().isend(device.data(), device.size()); });
    expect_error(Errc::InvalidArgument, "CUDA device memory",
                 [&] { (void)ring.pred().irecv(device.data(), device.size()); });
  });
}

TEST(GpuRing, LocalRankWithoutADeviceNamesBothNumbers) {
  Options options;
  options.comm_device = CommDevice::Gpu;
  options.local_rank = 4096;
  expect_error(Errc::InvalidArgument, "local rank 4096", [&] { Ring ring(options); });
}

TEST(GpuRing, KilledNeighbourFailsPendingReceiveWithPeerFailed) {
  test::SpawnOptions options = on_one_gpu(std::chrono::seconds(60));
  options.stop_on_failure = false;  // rank 1 dies on purpose
  const auto base = options.customize;
  options.customize = [base](int rank, std::map<std::string, std::string>& env) {
    base(rank, env);
    env["RINGPIPE_LIVENESS_TIMEOUT_S"] = "2";
  };
  const auto results = test::spawn_ranks(
      2,
      [](int rank) {
        Ring ring(Options::from_env());
        DeviceBuffer buffer(64 * kMiB);
        char ready = 1;
        if (rank == 1) {
          // Dies, without closing, once rank 0's receive is posted.
          ring.host_pred().recv(&ready, 1, 9);
          ::raise(SIGKILL);
        }
        Request pending = ring.pred().irecv(buffer.data(), buffer.size(), 7);
        const auto start = std::chrono::steady_clock::now();
        ring.host_succ().send(&ready, 1, 9);
        expect_error(Errc::PeerFailed, "rank 1", [&] { pending.wait(std::chrono::seconds(20)); });
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_LT(seconds, 5.0) << "PeerFailed took " << seconds << " s";
      },
      options);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_EQ(results[1].signal, SIGKILL) << test::describe_failures(results);
}

}  // namespace
}  // namespace ringpipe
