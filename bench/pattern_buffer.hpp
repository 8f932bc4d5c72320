// ring_bw: a message buffer in host or CUDA device memory that writes and checks the message
// pattern where it lives (GPU kernels for device memory, when built), all untimed.
#pragma once

#include "buffer.hpp"
#include "mode.hpp"

#include <ringpipe/ring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ring_bw {

class PatternBuffer {
 public:
  PatternBuffer(ringpipe::Ring& ring, Memory memory, std::size_t size);

  [[nodiscard]] std::byte* data() { return buffer_->data(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // The pattern of `seed` in the first `bytes` bytes.
  void fill(std::size_t bytes, std::uint64_t seed);
  // Bytes among the first `bytes` that differ from the pattern of `seed`.
  [[nodiscard]] std::uint64_t count_wrong(std::size_t bytes, std::uint64_t seed);
  // Flips the first byte (the --corrupt-every self-test).
  void damage();

 private:
  std::unique_ptr<message_buffer::Buffer> buffer_;
  std::size_t size_;
  bool on_device_;  // device memory and pattern kernels: the data never visits the host
};

}  // namespace ring_bw
