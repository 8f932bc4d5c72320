// gpu_copy_bw: the single-copy ceiling of GPU mode on one GPU. Times cudaMemcpyAsync device to
// device in one process for the sizes ring_bw takes, and prints a table of the same shape.
#include "args.hpp"

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>

namespace {

bool check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return true;
  std::fprintf(stderr, "gpu_copy_bw: %s: %s\n", what, cudaGetErrorString(status));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const ring_bw::ParseResult parsed = ring_bw::parse_args(argc, argv);
  if (parsed.status != ring_bw::ParseStatus::Run) {
    std::fprintf(stderr, "%s\n%s", parsed.error.c_str(), ring_bw::usage().c_str());
    return parsed.status == ring_bw::ParseStatus::Help ? 0 : 2;
  }
  const ring_bw::BenchOptions& options = parsed.options;
  if (!options.device.empty() || options.corrupt_every != 0) {
    std::fprintf(stderr, "gpu_copy_bw: --device and --corrupt-every are ring_bw's options\n");
    return 2;
  }
  std::size_t largest = 1;
  for (std::size_t size : options.sizes) largest = size > largest ? size : largest;
  void* from = nullptr;
  void* to = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  if (!check(cudaMalloc(&from, largest), "cudaMalloc") ||
      !check(cudaMalloc(&to, largest), "cudaMalloc") ||
      !check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream") ||
      !check(cudaEventCreate(&start), "event") || !check(cudaEventCreate(&stop), "event")) {
    return 1;
  }
  cudaDeviceProp properties{};
  (void)cudaGetDeviceProperties(&properties, 0);
  std::printf("# gpu_copy_bw: cudaMemcpyAsync device to device on %s, warmup %d, iters %d\n",
              properties.name, options.warmup, options.iterations);
  std::printf("# %12s %12s %12s %12s\n", "size(B)", "time(us)", "algbw(GB/s)", "host_us");
  for (std::size_t size : options.sizes) {
    for (int i = 0; i < options.warmup; ++i) {
      (void)cudaMemcpyAsync(to, from, size, cudaMemcpyDeviceToDevice, stream);
    }
    if (!check(cudaStreamSynchronize(stream), "warmup")) return 1;
    // GPU time of back-to-back copies, and the host-observed time of one copy at a time (what
    // a transport that waits for each message sees).
    (void)cudaEventRecord(start, stream);
    for (int i = 0; i < options.iterations; ++i) {
      (void)cudaMemcpyAsync(to, from, size, cudaMemcpyDeviceToDevice, stream);
    }
    (void)cudaEventRecord(stop, stream);
    if (!check(cudaEventSynchronize(stop), "copy")) return 1;
    float ms = 0;
    (void)cudaEventElapsedTime(&ms, start, stop);
    const double us = 1000.0 * ms / options.iterations;
    double host_us_total = 0;
    for (int i = 0; i < options.iterations; ++i) {
      const auto a = std::chrono::steady_clock::now();
      (void)cudaMemcpyAsync(to, from, size, cudaMemcpyDeviceToDevice, stream);
      (void)cudaStreamSynchronize(stream);
      host_us_total +=
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
    }
    std::printf("  %12zu %12.2f %12.2f %12.2f\n", size, us, us > 0 ? size / us / 1e3 : 0.0,
                host_us_total / options.iterations);
  }
  return 0;
}
