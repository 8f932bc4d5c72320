// ringpipe: host memory that the ring's neighbours on this host can map, for single-copy sends.
#pragma once

#include <ringpipe/export.hpp>

#include <cstddef>
#include <cstdint>

namespace ringpipe {

// Owns `size()` bytes of zeroed host memory backed by shared memory. A message sent from it
// (from anywhere inside it, at any offset) to a neighbour of the same host that can map it
// moves with one memcpy by the receiver, at memory speed; elsewhere it is ordinary memory and
// moves as any other. Any ring of the process may send from it, and receive into it.
// A neighbour maps each buffer once and keeps the mapping (a bounded number of them); it only
// ever reads through it. Freeing a buffer while a send from it is in flight breaks the send's
// contract, as for any buffer. Move-only; thread-safe to create and free from any thread.
class RINGPIPE_API RegisteredBuffer {
 public:
  RegisteredBuffer() noexcept = default;
  // Allocates `bytes` (> 0). Throws Error{InvalidArgument} for 0, Error{Internal} naming the
  // size and the system's reason when the memory cannot be had.
  explicit RegisteredBuffer(std::size_t bytes);
  RegisteredBuffer(RegisteredBuffer&& other) noexcept;
  RegisteredBuffer& operator=(RegisteredBuffer&& other) noexcept;
  RegisteredBuffer(const RegisteredBuffer&) = delete;
  RegisteredBuffer& operator=(const RegisteredBuffer&) = delete;
  ~RegisteredBuffer();

  [[nodiscard]] void* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return data_ == nullptr; }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ringpipe
