// ring_bw: mode "stream", one-way bandwidth from rank 0 to rank 1 with a window of messages.
#include "mode.hpp"

#include "pattern.hpp"
#include "pattern_buffer.hpp"
#include "tags.hpp"

#include <algorithm>
#include <vector>

namespace ring_bw {
namespace {

// The window's messages land in distinct buffers while they fit in this much memory (about a
// last-level cache), then share them, as ucx_perftest lands every message in one buffer:
// spreading a window over more memory than the cache measures the memory, not the transport.
// Every buffer is checked after each window; the sender sends the same data W times.
constexpr std::size_t kMaxReceiveBytes = std::size_t{4} << 20;

class StreamMode final : public Mode {
 public:
  StreamMode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory, int window)
      : ring_(ring),
        window_(window),
        sender_(ring.rank() == 0),
        receiver_(ring.rank() == 1 % ring.world_size()) {
    if (sender_) send_ = std::make_unique<PatternBuffer>(ring, memory, max_bytes + 1);
    if (receiver_) {
      const std::size_t slots = std::clamp<std::size_t>(kMaxReceiveBytes / (max_bytes + 1), 1,
                                                        static_cast<std::size_t>(window));
      for (std::size_t i = 0; i < slots; ++i) {
        receive_.push_back(std::make_unique<PatternBuffer>(ring, memory, max_bytes + 1));
      }
    }
    requests_.reserve(2 * static_cast<std::size_t>(window));
    received_bytes_.resize(receive_.size());
  }

  [[nodiscard]] std::string_view name() const override { return "stream"; }
  [[nodiscard]] double bus_factor() const override { return 1.0; }
  [[nodiscard]] double messages_per_iteration() const override { return window_; }

  void prepare(std::size_t bytes, std::uint64_t iteration) override {
    if (sender_) send_->fill(bytes, pattern_seed(0, iteration, bytes));
  }

  void transfer(std::size_t bytes) override {
    requests_.clear();
    std::uint8_t ack = 0;
    ringpipe::Request acked;
    if (receiver_) {
      for (int k = 0; k < window_; ++k) {
        PatternBuffer& slot = *receive_[static_cast<std::size_t>(k) % receive_.size()];
        requests_.push_back(ring_.pred().irecv(slot.data(), slot.size(), kDataTag));
      }
    }
    if (sender_) {
      acked = ring_.host_succ().irecv(&ack, sizeof ack, kAckTag);
      for (int k = 0; k < window_; ++k) {
        requests_.push_back(ring_.succ().isend(send_->data(), bytes, kDataTag));
      }
    }
    if (receiver_) {
      // The last messages land in each slot; their sizes are what verify() checks.
      for (int k = 0; k < window_; ++k) {
        requests_[static_cast<std::size_t>(k)].wait();
        received_bytes_[static_cast<std::size_t>(k) % receive_.size()] =
            requests_[static_cast<std::size_t>(k)].bytes();
      }
      ring_.host_pred().send(&ack, sizeof ack, kAckTag);
    }
    for (ringpipe::Request& request : requests_) request.wait();
    acked.wait();
  }

  [[nodiscard]] std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) override {
    std::uint64_t wrong = 0;
    for (std::size_t i = 0; i < receive_.size(); ++i) {
      wrong += checked(*receive_[i], bytes, received_bytes_[i], pattern_seed(0, iteration, bytes));
    }
    return wrong;
  }

  void damage_received() override {
    if (receiver_) receive_.front()->damage();
  }

 private:
  ringpipe::Ring& ring_;
  int window_;
  bool sender_;
  bool receiver_;
  std::unique_ptr<PatternBuffer> send_;
  std::vector<std::unique_ptr<PatternBuffer>> receive_;
  std::vector<std::size_t> received_bytes_;
  std::vector<ringpipe::Request> requests_;
};

}  // namespace

std::unique_ptr<Mode> make_stream_mode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory,
                                       int window) {
  return std::make_unique<StreamMode>(ring, max_bytes, memory, window);
}

}  // namespace ring_bw
