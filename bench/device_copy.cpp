// copy_bw: device-to-device copies on the GPU.
#include "device_copy.hpp"

#include <cuda_runtime_api.h>

#include <chrono>
#include <stdexcept>

namespace ring_bw {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

}  // namespace

std::string device_name() {
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  return properties.name;
}

DeviceCopyTimes time_device_copy(std::size_t bytes, int warmup, int iterations) {
  void* from = nullptr;
  void* to = nullptr;
  cudaStream_t stream = nullptr;
  check(cudaMalloc(&from, bytes + 1), "cudaMalloc");
  check(cudaMalloc(&to, bytes + 1), "cudaMalloc");
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  for (int i = 0; i < warmup; ++i) {
    check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream), "warm-up copy");
  }
  check(cudaStreamSynchronize(stream), "warm-up copy");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream), "copy");
    check(cudaStreamSynchronize(stream), "copy");
  }
  DeviceCopyTimes times;
  times.host_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
  cudaEvent_t first = nullptr, last = nullptr;
  check(cudaEventCreate(&first), "cudaEventCreate");
  check(cudaEventCreate(&last), "cudaEventCreate");
  check(cudaEventRecord(first, stream), "cudaEventRecord");
  for (int i = 0; i < iterations; ++i) {
    check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream), "copy");
  }
  check(cudaEventRecord(last, stream), "cudaEventRecord");
  check(cudaEventSynchronize(last), "copy");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, first, last), "cudaEventElapsedTime");
  times.gpu_seconds = ms / 1e3 / iterations;
  (void)cudaEventDestroy(first);
  (void)cudaEventDestroy(last);
  (void)cudaStreamDestroy(stream);
  (void)cudaFree(from);
  (void)cudaFree(to);
  return times;
}

}  // namespace ring_bw
