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
  // An iteration's time divided by this is the time reported per message: 1 for ring, the
  // window for stream, 2 for pingpong (a round trip is two one-way messages).
  [[nodiscard]] virtual double messages_per_iteration() const { return 1.0; }
  // Whether this rank's time counts: an iteration takes as long as its slowest counted rank.
  [[nodiscard]] virtual bool timed_on_this_rank() const { return true; }
  // Whether the messages of an iteration already hold the ranks in step. Otherwise the ranks
  // meet before every iteration, and the CPU clock is read around each one, outside its timed
  // span; a self-paced mode runs its iterations back to back, with one CPU reading around all.
  [[nodiscard]] virtual bool self_paced() const { return false; }

  // Untimed: writes the data this rank sends in `iteration`.
  virtual void prepare(std::size_t bytes, std::uint64_t iteration) = 0;
  // Timed: moves the data of one iteration.
  virtual void transfer(std::size_t bytes) = 0;
  // Untimed: how many bytes of this iteration arrived wrong (a wrong length counts too).
  [[nodiscard]] virtual std::uint64_t verify(std::size_t bytes, std::uint64_t iteration) = 0;
  // Untimed, for --corrupt-every: flips a byte of what this iteration received.
  virtual void damage_received() = 0;
};

class PatternBuffer;

// Where a mode's message buffers live: host memory, host memory from Ring::allocate (which
// neighbours of the same host copy from once), or CUDA device memory (GPU mode).
enum class Memory { Host, Registered, Device };

// Every rank sends to its successor while receiving from its predecessor. Buffers are sized
// once for `max_bytes`.
std::unique_ptr<Mode> make_ring_mode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory);

// Rank 0 streams `window` messages to rank 1 (its successor; itself with one rank), which
// acknowledges the window: one-way bandwidth, like ucx_perftest -t tag_bw. Other ranks idle.
std::unique_ptr<Mode> make_stream_mode(ringpipe::Ring& ring, std::size_t max_bytes, Memory memory,
                                       int window);

// Rank 0 sends a message to rank 1, which sends it back: half the round trip is the latency,
// like ucx_perftest -t tag_lat. Other ranks idle.
std::unique_ptr<Mode> make_pingpong_mode(ringpipe::Ring& ring, std::size_t max_bytes,
                                         Memory memory);

// Shared by the modes: the wrong bytes of a received message (a length other than expected
// counts as that many wrong bytes).
std::uint64_t checked(PatternBuffer& received, std::size_t expected_bytes,
                      std::size_t received_bytes, std::uint64_t seed);

}  // namespace ring_bw
