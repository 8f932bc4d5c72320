// Test helper: CUDA device memory filled and checked through the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringpipe::test {

// Why this process cannot run GPU tests ("" if it can).
std::string gpu_unavailable_reason();

class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t size);
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  [[nodiscard]] void* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // Writes the pattern of `seed` into the first `bytes` bytes; fills the rest with 0xee.
  void fill(std::size_t bytes, std::uint64_t seed);
  // Bytes among the first `bytes` that differ from the pattern of `seed`.
  [[nodiscard]] std::size_t count_wrong(std::size_t bytes, std::uint64_t seed) const;
  // True if bytes [from, size) still hold 0xee.
  [[nodiscard]] bool untouched_from(std::size_t from) const;

 private:
  void* data_ = nullptr;
  std::size_t size_;
};

}  // namespace ringpipe::test
