// ring_bw: a mode is the traffic pattern every rank runs in one iteration of one message size.
// The driver times only transfer(), so filling and checking buffers never counts as bandwidth.
#pragma once

#include <ringpipe/ring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace ring_bw {

class Mode {
 public:
  Mode() = default;
  Mode(const Mode&) = delete;
  Mode& operator=(const Mode&) = delete;
  virtual ~Mode() = default;

  [[nodiscard]] virtual std::string_view name() const = 0;
  // busbw = algbw * bus_factor: nccl-tests' normalisation, so modes compare against link speed.
  [[nodiscard]] virtual double bus_factor() const = 0;

  // Untimed: writes the data this rank sends in `iteration`.
  virtual void prepare(std::size_t bytes, std::uint64_t iteration) = 0;
  // Timed: moves the data of one iteration.
  virtual void transfer(std::size_t bytes) = 0;
  // Untimed: how many bytes of this iteration arrived wrong (a wrong length counts too).
  [[nodiscard]] virtual std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) = 0;
  // Untimed, for --corrupt-every: flips a byte of what this iteration received.
  virtual void damage_received() = 0;
};

// Every rank sends to its successor while receiving from its predecessor. Buffers are sized
// once for `max_bytes`.
std::unique_ptr<Mode> make_ring_mode(ringpipe::Ring& ring, std::size_t max_bytes);

}  // namespace ring_bw
