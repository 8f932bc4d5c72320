// ring_bw: message buffers that write and check the pattern where they live.
#include "pattern_buffer.hpp"

#include "device_pattern.hpp"
#include "pattern.hpp"

namespace ring_bw {
namespace {

// Host memory the ring's neighbours map: the pattern is written and checked in place.
class RegisteredHostBuffer final : public message_buffer::Buffer {
 public:
  RegisteredHostBuffer(ringpipe::Ring& ring, std::size_t size) : memory_(ring.allocate(size)) {}
  std::byte* data() override { return static_cast<std::byte*>(memory_.data()); }
  std::byte* host() override { return data(); }
  void upload(std::size_t) override {}
  void download(std::size_t) override {}

 private:
  ringpipe::RegisteredBuffer memory_;
};

std::unique_ptr<message_buffer::Buffer> make_buffer(ringpipe::Ring& ring, Memory memory,
                                                    std::size_t size) {
  switch (memory) {
    case Memory::Registered:
      return std::make_unique<RegisteredHostBuffer>(ring, size);
    case Memory::Device:
      return message_buffer::make_device_buffer(size);
    case Memory::Host:
      break;
  }
  return message_buffer::make_host_buffer(size);
}

}  // namespace

PatternBuffer::PatternBuffer(ringpipe::Ring& ring, Memory memory, std::size_t size)
    : buffer_(make_buffer(ring, memory, size)),
      size_(size),
      on_device_(memory == Memory::Device && device_patterns_available()) {}

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
