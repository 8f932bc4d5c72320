// ring_bw: mode "pingpong", latency as half the round trip of one message between ranks 0
// and 1 (rank 0 with itself over the self-loop with one rank).
#include "mode.hpp"

#include "pattern.hpp"
#include "pattern_buffer.hpp"
#include "tags.hpp"

namespace ring_bw {
namespace {

class PingpongMode final : public Mode {
 public:
  PingpongMode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory)
      : ring_(ring),
        initiator_(ring.rank() == 0),
        responder_(ring.rank() == 1 % ring.world_size()) {
    if (initiator_) {
      ping_ = std::make_unique<PatternBuffer>(ring, memory, max_bytes + 1);
      pong_ = std::make_unique<PatternBuffer>(ring, memory, max_bytes + 1);
    }
    if (responder_) echo_ = std::make_unique<PatternBuffer>(ring, memory, max_bytes + 1);
  }

  [[nodiscard]] std::string_view name() const override { return "pingpong"; }
  [[nodiscard]] double bus_factor() const override { return 1.0; }
  [[nodiscard]] double messages_per_iteration() const override { return 2.0; }
  // Only the initiator's clock sees a round trip, as ucx_perftest's client does; the
  // responder's span also holds however long it waited for the ping to be sent.
  [[nodiscard]] bool timed_on_this_rank() const override { return initiator_; }
  // The responder cannot answer before the ping: like ucx_perftest, no meeting in between.
  [[nodiscard]] bool self_paced() const override { return true; }

  void prepare(std::size_t bytes, std::uint64_t iteration) override {
    if (initiator_) ping_->fill(bytes, pattern_seed(0, iteration, bytes));
  }

  // In this order a single rank can play both parts.
  void transfer(std::size_t bytes) override {
    ringpipe::Request request, reply, ping;
    if (responder_) request = ring_.pred().irecv(echo_->data(), echo_->size(), kDataTag);
    if (initiator_) {
      // The ping first, as ucx_perftest's client does: the reply's receive is posted while the
      // ping travels.
      ping = ring_.succ().isend(ping_->data(), bytes, kDataTag);
      reply = ring_.succ().irecv(pong_->data(), pong_->size(), kDataTag);
    }
    if (responder_) {
      request.wait();
      echo_bytes_ = request.bytes();
      ring_.pred().send(echo_->data(), echo_bytes_, kDataTag);
    }
    if (initiator_) {
      ping.wait();
      reply.wait();
      pong_bytes_ = reply.bytes();
    }
  }

  [[nodiscard]] std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) override {
    const std::uint64_t seed = pattern_seed(0, iteration, bytes);
    std::uint64_t wrong = 0;
    if (responder_) wrong += checked(*echo_, bytes, echo_bytes_, seed);
    if (initiator_) wrong += checked(*pong_, bytes, pong_bytes_, seed);
    return wrong;
  }

  void damage_received() override {
    if (initiator_) pong_->damage();
  }

 private:
  ringpipe::Ring& ring_;
  bool initiator_;
  bool responder_;
  std::unique_ptr<PatternBuffer> ping_, pong_, echo_;
  std::size_t echo_bytes_ = 0;
  std::size_t pong_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Mode> make_pingpong_mode(ringpipe::Ring& ring, std::size_t max_bytes,
                                         Memory memory) {
  return std::make_unique<PingpongMode>(ring, max_bytes, memory);
}

}  // namespace ring_bw
