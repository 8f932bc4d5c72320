// ring_bw: mode "ring", the steady state of a pipeline in which every stage is busy.
#include "mode.hpp"

#include "pattern.hpp"
#include "pattern_buffer.hpp"
#include "tags.hpp"

#include <algorithm>

namespace ring_bw {
namespace {

class RingMode final : public Mode {
 public:
  RingMode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory)
      // One spare byte: a zero-size run still has valid buffer addresses, and a message longer
      // than expected is seen as a wrong length rather than failing as truncated.
      : ring_(ring), send_(ring, memory, max_bytes + 1), receive_(ring, memory, max_bytes + 1) {}

  [[nodiscard]] std::string_view name() const override { return "ring"; }
  // Each rank's link carries the full message once, as in nccl-tests' sendrecv.
  [[nodiscard]] double bus_factor() const override { return 1.0; }

  void prepare(std::size_t bytes, std::uint64_t iteration) override {
    send_.fill(bytes, pattern_seed(ring_.rank(), iteration, bytes));
  }

  void transfer(std::size_t bytes) override {
    // Receive first, so the message never waits in UCX's unexpected queue.
    ringpipe::Request received = ring_.pred().irecv(receive_.data(), receive_.size(), kDataTag);
    ringpipe::Request sent = ring_.succ().isend(send_.data(), bytes, kDataTag);
    received.wait();
    sent.wait();
    received_bytes_ = received.bytes();
  }

  [[nodiscard]] std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) override {
    return checked(receive_, bytes, received_bytes_,
                   pattern_seed(ring_.pred().peer(), iteration, bytes));
  }

  void damage_received() override { receive_.damage(); }

 private:
  ringpipe::Ring& ring_;
  PatternBuffer send_;
  PatternBuffer receive_;
  std::size_t received_bytes_ = 0;
};

}  // namespace

std::uint64_t checked(PatternBuffer& received, std::size_t expected_bytes,
                      std::size_t received_bytes, std::uint64_t seed) {
  const std::size_t common = std::min(expected_bytes, received_bytes);
  const std::uint64_t length_error = std::max(expected_bytes, received_bytes) - common;
  return length_error + received.count_wrong(common, seed);
}

std::unique_ptr<Mode> make_ring_mode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory) {
  return std::make_unique<RingMode>(ring, max_bytes, memory);
}

}  // namespace ring_bw
