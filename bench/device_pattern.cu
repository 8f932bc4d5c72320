// ring_bw: the message pattern on the GPU; word i is the same value as on the host
// (base + i * step, both drawn from the seed).
#include "device_pattern.hpp"

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace ring_bw {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;

__device__ std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ std::uint64_t word_at(std::uint64_t seed, std::size_t index) {
  return mix(seed) + index * (mix(seed + 0x9E3779B97F4A7C15ull) | 1);
}

// Bytes of `got` that differ from `want` among the low `n` bytes (little-endian, as on x86).
__device__ unsigned differing_bytes(std::uint64_t got, std::uint64_t want, unsigned n) {
  unsigned count = 0;
  for (unsigned b = 0; b < n; ++b) count += ((got ^ want) >> (8 * b) & 0xff) != 0;
  return count;
}

__global__ void fill(unsigned char* data, std::size_t bytes, std::uint64_t seed) {
  const std::size_t words = bytes / 8;
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  auto* word_data = reinterpret_cast<std::uint64_t*>(data);  // cudaMalloc'd: 256-byte aligned
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < words; i += stride) {
    word_data[i] = word_at(seed, i);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    const std::uint64_t tail = word_at(seed, words);
    for (std::size_t b = 0; b < bytes % 8; ++b) data[words * 8 + b] = tail >> (8 * b) & 0xff;
  }
}

__global__ void count_wrong(const unsigned char* data, std::size_t bytes, std::uint64_t seed,
                            unsigned long long* wrong) {
  const std::size_t words = bytes / 8;
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  const auto* word_data = reinterpret_cast<const std::uint64_t*>(data);
  unsigned long long mine = 0;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < words; i += stride) {
    mine += differing_bytes(word_data[i], word_at(seed, i), 8);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0 && bytes % 8 != 0) {
    std::uint64_t tail = 0;
    for (std::size_t b = 0; b < bytes % 8; ++b) {
      tail |= std::uint64_t{data[words * 8 + b]} << (8 * b);
    }
    mine += differing_bytes(tail, word_at(seed, words), bytes % 8);
  }
  if (mine != 0) atomicAdd(wrong, mine);
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

unsigned blocks_for(std::size_t bytes) {
  const std::size_t wanted = (bytes / 8 + kThreads - 1) / kThreads;
  return static_cast<unsigned>(wanted == 0 ? 1 : (wanted < kMaxBlocks ? wanted : kMaxBlocks));
}

}  // namespace

bool device_patterns_available() noexcept { return true; }

void fill_pattern_on_device(void* data, std::size_t bytes, std::uint64_t seed) {
  if (bytes == 0) return;
  fill<<<blocks_for(bytes), kThreads>>>(static_cast<unsigned char*>(data), bytes, seed);
  check(cudaGetLastError(), "pattern fill kernel");
  check(cudaDeviceSynchronize(), "pattern fill kernel");
}

std::uint64_t count_wrong_bytes_on_device(const void* data, std::size_t bytes, std::uint64_t seed) {
  if (bytes == 0) return 0;
  static unsigned long long* wrong = [] {
    unsigned long long* counter = nullptr;
    check(cudaMalloc(&counter, sizeof *counter), "pattern check counter");
    return counter;
  }();
  check(cudaMemset(wrong, 0, sizeof *wrong), "pattern check counter");
  count_wrong<<<blocks_for(bytes), kThreads>>>(static_cast<const unsigned char*>(data), bytes, seed,
                                               wrong);
  check(cudaGetLastError(), "pattern check kernel");
  unsigned long long result = 0;
  check(cudaMemcpy(&result, wrong, sizeof result, cudaMemcpyDeviceToHost), "pattern check");
  return result;
}

}  // namespace ring_bw
