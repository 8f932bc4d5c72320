// GPU mode's NCCL path on a real GPU. One GPU holds a 1-rank ring (NCCL will not put two ranks
// of a communicator on one GPU); rings across GPUs or hosts need more machines than CI has.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "device_buffer.hpp"
#include "expect_error.hpp"
#include "gpu_traffic.hpp"
#include "multiproc.hpp"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace ringpipe {
namespace {

using test::DeviceBuffer;
using test::expect_error;

constexpr std::size_t kMiB = std::size_t{1} << 20;

bool nccl_loadable() {
  const char* configured = std::getenv("RINGPIPE_NCCL_LIBRARY");
  void* handle = dlopen(configured ? configured : "libnccl.so.2", RTLD_LAZY | RTLD_LOCAL);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

#define SKIP_WITHOUT_NCCL()                                             \
  if (!nccl_loadable())                                                 \
  GTEST_SKIP() << "libnccl.so.2 cannot be loaded (set LD_LIBRARY_PATH " \
                  "or RINGPIPE_NCCL_LIBRARY)"

test::SpawnOptions nccl_on_one_gpu() {
  test::SpawnOptions options;
  options.timeout = std::chrono::seconds(120);
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_COMM_DEVICE"] = "gpu";
    env["RINGPIPE_LOCAL_RANK"] = "0";
    env["RINGPIPE_GPU_TRANSPORT"] = "nccl";
  };
  return options;
}

TEST(GpuNccl, OneRankRingMovesEverySizeThroughItsCommunicator) {
  SKIP_WITHOUT_NCCL();
  test::run_ring(
      1,
      [](Ring& ring) {
        EXPECT_EQ(ring.link_info(ring.succ()).data_path, DataPath::Nccl);
        cudaStream_t stream = nullptr;
        ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
        for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4097},
                                 std::size_t{64 * 1024}, kMiB, 16 * kMiB, 256 * kMiB}) {
          test::exchange_on_stream(ring, size, stream);
        }
        ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
      },
      nccl_on_one_gpu());
}

TEST(GpuNccl, TransfersComeAfterTheWorkEnqueuedBeforeBothPosts) {
  SKIP_WITHOUT_NCCL();
  test::run_ring(
      1, [](Ring& ring) { test::exchange_behind_stream_work(ring, 6, 4 * kMiB); },
      nccl_on_one_gpu());
}

TEST(GpuNccl, TagsPostedInReverseOrderStillMatchByTag) {
  SKIP_WITHOUT_NCCL();
  test::run_ring(
      1, [](Ring& ring) { test::exchange_tags_in_reverse(ring, 6, 128 * 1024); },
      nccl_on_one_gpu());
}

TEST(GpuNccl, TruncatedAndTimeoutBehaveAsOnTheOtherPaths) {
  SKIP_WITHOUT_NCCL();
  test::run_ring(
      1,
      [](Ring& ring) {
        DeviceBuffer out(4096), in(1024);
        Request received = ring.pred().irecv(in.data(), in.size(), 2);
        Request sent = ring.succ().isend(out.data(), out.size(), 2);
        expect_error(Errc::Truncated, "4096", [&] { received.wait(); });
        expect_error(Errc::Truncated, "1024", [&] { sent.wait(); });
        expect_error(Errc::Timeout, "tag 3", [&] {
          ring.pred().recv(in.data(), in.size(), 3, std::chrono::milliseconds(200));
        });
      },
      nccl_on_one_gpu());
}

TEST(GpuNccl, TwoRanksOnOneGpuAreRefusedWithTheReason) {
  SKIP_WITHOUT_NCCL();
  test::SpawnOptions options = nccl_on_one_gpu();
  options.stop_on_failure = false;
  const auto results = test::spawn_ranks(
      2,
      [](int) {
        expect_error(Errc::Unsupported, "NCCL cannot join two ranks of one GPU",
                     [] { Ring ring(Options::from_env()); });
      },
      options);
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

}  // namespace
}  // namespace ringpipe
