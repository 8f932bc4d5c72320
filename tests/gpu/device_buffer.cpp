// Test helper: CUDA device memory filled and checked through the host.
#include "device_buffer.hpp"

#include "multiproc.hpp"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace ringpipe::test {

std::string gpu_unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    return std::string("no usable GPU: ") + cudaGetErrorName(status) + " (" +
           cudaGetErrorString(status) + ")";
  }
  if (count == 0) return "no usable GPU: no CUDA device";
  return "";
}

DeviceBuffer::DeviceBuffer(std::size_t size) : size_(size) {
  if (size_ == 0) return;
  const cudaError_t status = cudaMalloc(&data_, size_);
  if (status != cudaSuccess) {
    ADD_FAILURE() << "cudaMalloc(" << size_ << "): " << cudaGetErrorString(status);
    data_ = nullptr;
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) (void)cudaFree(data_);
}

void DeviceBuffer::fill(std::size_t bytes, std::uint64_t seed) {
  if (size_ == 0) return;
  std::vector<std::uint8_t> host(size_, 0xee);
  fill_pattern(host.data(), std::min(bytes, size_), seed);
  ASSERT_EQ(cudaMemcpy(data_, host.data(), size_, cudaMemcpyHostToDevice), cudaSuccess);
}

std::size_t DeviceBuffer::count_wrong(std::size_t bytes, std::uint64_t seed) const {
  if (bytes == 0) return 0;
  std::vector<std::uint8_t> host(bytes);
  if (cudaMemcpy(host.data(), data_, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) return bytes;
  return test::count_wrong(host.data(), bytes, seed);
}

bool DeviceBuffer::untouched_from(std::size_t from) const {
  if (from >= size_) return true;
  std::vector<std::uint8_t> host(size_ - from);
  if (cudaMemcpy(host.data(), static_cast<char*>(data_) + from, host.size(),
                 cudaMemcpyDeviceToHost) != cudaSuccess) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](std::uint8_t b) { return b == 0xee; });
}

}  // namespace ringpipe::test
