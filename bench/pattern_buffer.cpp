// ring_bw: message buffers that write and check the pattern where they live.
#include "pattern_buffer.hpp"

#include "device_pattern.hpp"
#include "pattern.hpp"

namespace ring_bw {

PatternBuffer::PatternBuffer(bool device, std::size_t size)
    : buffer_(device ? message_buffer::make_device_buffer(size)
                     : message_buffer::make_host_buffer(size)),
      size_(size),
      on_device_(device && device_patterns_available()) {}

void PatternBuffer::fill(std::size_t bytes, std::uint64_t seed) {
  if (on_device_) {
    fill_pattern_on_device(buffer_->data(), bytes, seed);
    return;
  }
  fill_pattern(buffer_->host(), bytes, seed);
  buffer_->upload(bytes);
}

std::uint64_t PatternBuffer::count_wrong(std::size_t bytes, std::uint64_t seed) {
  if (on_device_) return count_wrong_bytes_on_device(buffer_->data(), bytes, seed);
  buffer_->download(bytes);
  return count_wrong_bytes(buffer_->host(), bytes, seed);
}

void PatternBuffer::damage() {
  if (size_ == 0) return;
  buffer_->download(1);
  buffer_->host()[0] ^= std::byte{0xff};
  buffer_->upload(1);
}

}  // namespace ring_bw
