// GPU mode's UCX path (GpuTransport::Ucx): the CUDA buffers go to UCX itself. It needs a UCX
// built with CUDA support; with any other the Ring refuses the path, which is tested instead.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "device_buffer.hpp"
#include "expect_error.hpp"
#include "gpu_traffic.hpp"
#include "multiproc.hpp"
#include "ucx/context.hpp"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace ringpipe {
namespace {

using test::DeviceBuffer;
using test::expect_error;

constexpr std::size_t kMiB = std::size_t{1} << 20;

test::SpawnOptions ucx_on_one_gpu() {
  test::SpawnOptions options;
  options.timeout = std::chrono::seconds(120);
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_COMM_DEVICE"] = "gpu";
    env["RINGPIPE_LOCAL_RANK"] = "0";
    env["RINGPIPE_GPU_TRANSPORT"] = "ucx";
  };
  return options;
}

// Why the loaded UCX cannot take CUDA memory, or nullopt if it can. Asked of UCX directly: a
// rank process re-runs the test, and would run a probe ring's body in place of the test's.
std::optional<std::string> ucx_without_cuda() {
  static const bool supported = ucx::Context("", kInfinite).supports_cuda_memory();
  if (supported) return std::nullopt;
  return "the loaded UCX has no CUDA support";
}

#define SKIP_WITHOUT_UCX_CUDA() \
  if (const auto why = ucx_without_cuda()) GTEST_SKIP() << *why

TEST(GpuUcx, WithoutCudaInUcxThePathIsRefusedWithTheReason) {
  if (!ucx_without_cuda()) GTEST_SKIP() << "the loaded UCX supports CUDA memory";
  test::SpawnOptions options = ucx_on_one_gpu();
  options.stop_on_failure = false;
  const auto results = test::spawn_ranks(
      1,
      [](int) {
        expect_error(Errc::Unsupported, "no CUDA support", [] { Ring ring(Options::from_env()); });
      },
      options);
  EXPECT_EQ(results.front().exit_code, 0) << results.front().output;
}

class GpuUcxRingOfSize : public ::testing::TestWithParam<int> {};

TEST_P(GpuUcxRingOfSize, EveryRankGetsItsPredecessorsDeviceBufferFromZeroBytesTo256MiB) {
  SKIP_WITHOUT_UCX_CUDA();
  test::run_ring(
      GetParam(),
      [](Ring& ring) {
        EXPECT_EQ(ring.link_info(ring.succ()).data_path, DataPath::Ucx);
        cudaStream_t stream = nullptr;
        ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
        for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4097},
                                 std::size_t{64 * 1024}, kMiB, 16 * kMiB, 256 * kMiB}) {
          test::exchange_on_stream(ring, size, stream);
        }
        test::exchange_on_stream(ring, kMiB + 3, nullptr);
        ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
      },
      ucx_on_one_gpu());
}

TEST_P(GpuUcxRingOfSize, TransfersComeAfterTheWorkEnqueuedBeforeBothPosts) {
  SKIP_WITHOUT_UCX_CUDA();
  test::run_ring(
      GetParam(),
      [](Ring& ring) {
        test::exchange_behind_stream_work(ring, 6, 4 * kMiB + 5);
        test::exchange_tags_in_reverse(ring, 8, 256 * 1024);
      },
      ucx_on_one_gpu());
}

INSTANTIATE_TEST_SUITE_P(Ranks, GpuUcxRingOfSize, ::testing::Values(1, 2));

TEST(GpuUcx, TruncatedReceiveAndTimeoutNameTheOperation) {
  SKIP_WITHOUT_UCX_CUDA();
  test::run_ring(
      2,
      [](Ring& ring) {
        DeviceBuffer out(4096), in(1024);
        Request received = ring.pred().irecv(in.data(), in.size(), 2);
        Request sent = ring.succ().isend(out.data(), out.size(), 2);
        expect_error(Errc::Truncated, "recv", [&] { received.wait(); });
        sent.wait();  // as in CPU mode, only the receive learns of the truncation
        expect_error(Errc::Timeout, "tag 3", [&] {
          ring.pred().recv(in.data(), in.size(), 3, std::chrono::milliseconds(200));
        });
      },
      ucx_on_one_gpu());
}

}  // namespace
}  // namespace ringpipe
