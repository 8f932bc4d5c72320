// message_buffer: a message buffer in host memory (CPU mode) or CUDA device memory (GPU mode).
// Data is written and checked in a host view; device buffers copy it across.
#pragma once

#include <cstddef>
#include <memory>

namespace message_buffer {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  virtual ~Buffer() = default;

  // What the ring sends from or receives into.
  [[nodiscard]] virtual std::byte* data() = 0;
  // Where the pattern is written and checked: the buffer itself, or a host copy of it.
  [[nodiscard]] virtual std::byte* host() = 0;
  // Host view -> buffer, and back, for the first `bytes` bytes.
  virtual void upload(std::size_t bytes) = 0;
  virtual void download(std::size_t bytes) = 0;
};

std::unique_ptr<Buffer> make_host_buffer(std::size_t size);
// Throws std::runtime_error when this build has no CUDA or the allocation fails.
std::unique_ptr<Buffer> make_device_buffer(std::size_t size);

}  // namespace message_buffer
