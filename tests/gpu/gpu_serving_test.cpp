// The serving pattern of examples/serving_pipeline in GPU mode: micro-batches of device
// activations forward around the ring by tag, token ids from the last rank back to rank 0 over
// the host edges, several steps, every byte checked.
#include <ringpipe/ring.hpp>

#include "device_buffer.hpp"
#include "multiproc.hpp"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

namespace ringpipe {
namespace {

using test::DeviceBuffer;

constexpr int kSteps = 3;
constexpr int kMicroBatches = 4;
constexpr std::size_t kActivationBytes = std::size_t{1} << 20;
constexpr Tag kTokenTag = 1u << 16;
using Tokens = std::array<std::int64_t, 16>;

// What stage `stage` outputs for micro-batch k of `step`.
std::uint64_t activation_seed(int step, int k, int stage) {
  return (std::uint64_t(step) << 40) ^ (std::uint64_t(k) << 20) ^ std::uint64_t(stage);
}

Tokens tokens_of(int step, int k) {
  Tokens tokens;
  for (std::size_t t = 0; t < tokens.size(); ++t) tokens[t] = step * 1000 + k * 100 + int(t);
  return tokens;
}

void serve(Ring& ring) {
  const int rank = ring.rank();
  const int last = ring.world_size() - 1;
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  std::vector<std::unique_ptr<DeviceBuffer>> activations;
  for (int k = 0; k < kMicroBatches; ++k) {
    activations.push_back(std::make_unique<DeviceBuffer>(kActivationBytes));
  }
  for (int step = 0; step < kSteps; ++step) {
    std::vector<Tokens> tokens(kMicroBatches);
    std::vector<Request> token_receives, receives, sends;
    if (rank == 0) {
      for (int k = 0; k < kMicroBatches; ++k) {
        token_receives.push_back(ring.host_pred().irecv(&tokens[k], sizeof(Tokens), kTokenTag + k));
      }
    } else {
      for (int k = 0; k < kMicroBatches; ++k) {
        receives.push_back(
            ring.pred().irecv(activations[k]->data(), kActivationBytes, k, Stream{stream}));
      }
    }
    for (int k = 0; k < kMicroBatches; ++k) {
      if (rank > 0) {
        receives[k].wait();
        ASSERT_EQ(activations[k]->count_wrong(kActivationBytes, activation_seed(step, k, rank - 1)),
                  0u)
            << "step " << step << " micro-batch " << k << " at rank " << rank;
      }
      // The stage's "compute": its output pattern.
      activations[k]->fill(kActivationBytes, activation_seed(step, k, rank));
      if (rank == last) {
        tokens[k] = tokens_of(step, k);
        sends.push_back(ring.host_succ().isend(&tokens[k], sizeof(Tokens), kTokenTag + k));
      } else {
        sends.push_back(
            ring.succ().isend(activations[k]->data(), kActivationBytes, k, Stream{stream}));
      }
    }
    for (int k = 0; k < static_cast<int>(token_receives.size()); ++k) {
      token_receives[k].wait();
      EXPECT_EQ(tokens[k], tokens_of(step, k)) << "step " << step << " micro-batch " << k;
    }
    for (Request& send : sends) send.wait();
  }
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

class GpuServing : public ::testing::TestWithParam<int> {};

TEST_P(GpuServing, MicroBatchesForwardAndTokensBackEveryByteChecked) {
  test::SpawnOptions options;
  options.timeout = std::chrono::seconds(120);
  options.customize = [](int, std::map<std::string, std::string>& env) {
    env["RINGPIPE_COMM_DEVICE"] = "gpu";
    env["RINGPIPE_LOCAL_RANK"] = "0";
  };
  test::run_ring(GetParam(), serve, options);
}

INSTANTIATE_TEST_SUITE_P(Ranks, GpuServing, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace ringpipe
