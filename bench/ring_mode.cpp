// ring_bw: mode "ring", the steady state of a pipeline in which every stage is busy.
#include "mode.hpp"

#include "buffer.hpp"
#include "device_pattern.hpp"
#include "pattern.hpp"
#include "tags.hpp"

#include <algorithm>
#include <vector>

namespace ring_bw {
namespace {

class RingMode final : public Mode {
 public:
  RingMode(ringpipe::Ring& ring, std::size_t max_bytes)
      // One spare byte: a zero-size run still has valid buffer addresses, and a message longer
      // than expected is seen as a wrong length rather than failing as truncated.
      : ring_(ring),
        on_device_(ring.comm_device() == ringpipe::CommDevice::Gpu && device_patterns_available()),
        send_(make(max_bytes + 1)),
        receive_(make(max_bytes + 1)) {}

  [[nodiscard]] std::string_view name() const override { return "ring"; }
  // Each rank's link carries the full message once, as in nccl-tests' sendrecv.
  [[nodiscard]] double bus_factor() const override { return 1.0; }

  void prepare(std::size_t bytes, std::uint64_t iteration) override {
    const std::uint64_t seed = pattern_seed(ring_.rank(), iteration, bytes);
    if (on_device_) {
      fill_pattern_on_device(send_->data(), bytes, seed);
      return;
    }
    fill_pattern(send_->host(), bytes, seed);
    send_->upload(bytes);
  }

  void transfer(std::size_t bytes) override {
    // Receive first, so the message never waits in UCX's unexpected queue.
    ringpipe::Request received = ring_.pred().irecv(receive_->data(), capacity_, kDataTag);
    ringpipe::Request sent = ring_.succ().isend(send_->data(), bytes, kDataTag);
    received.wait();
    sent.wait();
    received_bytes_ = received.bytes();
  }

  [[nodiscard]] std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) override {
    const std::size_t common = std::min(bytes, received_bytes_);
    const std::uint64_t length_error = std::max(bytes, received_bytes_) - common;
    const std::uint64_t seed = pattern_seed(ring_.pred().peer(), iteration, bytes);
    if (on_device_) {
      if (damage_ && common > 0) {
        receive_->download(1);
        receive_->host()[0] ^= std::byte{0xff};
        receive_->upload(1);
      }
      damage_ = false;
      return length_error + count_wrong_bytes_on_device(receive_->data(), common, seed);
    }
    receive_->download(common);
    if (damage_ && common > 0) receive_->host()[0] ^= std::byte{0xff};
    damage_ = false;
    return length_error + count_wrong_bytes(receive_->host(), common, seed);
  }

  void damage_received() override { damage_ = true; }

 private:
  std::unique_ptr<message_buffer::Buffer> make(std::size_t size) {
    capacity_ = size;
    return ring_.comm_device() == ringpipe::CommDevice::Gpu
               ? message_buffer::make_device_buffer(size)
               : message_buffer::make_host_buffer(size);
  }

  ringpipe::Ring& ring_;
  bool on_device_;  // GPU mode with the pattern kernels: messages never visit the host
  std::size_t capacity_ = 0;
  std::unique_ptr<message_buffer::Buffer> send_;
  std::unique_ptr<message_buffer::Buffer> receive_;
  bool damage_ = false;  // flip a byte at the next check
  std::size_t received_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Mode> make_ring_mode(ringpipe::Ring& ring, std::size_t max_bytes) {
  return std::make_unique<RingMode>(ring, max_bytes);
}

}  // namespace ring_bw
