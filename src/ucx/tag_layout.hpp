// ringpipe: how a message's UCX tag names its edge, direction, channel and user tag.
#pragma once

#include <ringpipe/pipe_group.hpp>

#include <cstdint>
#include <stdexcept>

namespace ringpipe::ucx {

// All ranks share one tag space per worker, so a tag names the edge, the direction, the channel
// and the user's tag. Edge p joins rank p and rank (p+1) % N; "forward" is p -> p+1.
//   bit 63: ring control | bits 61..62: channel | bit 60: single copy | bits 33..59: edge |
//   bit 32: backward | bits 0..31: tag
// A message with the single-copy bit carries a descriptor of the data, which the receiver copies
// itself: receives ignore the bit, so both kinds match (and keep their order) alike. (The
// receiver recognises a descriptor by its contents: UCX 1.13 does not always report the
// sender's tag to a receive's callback.)
inline constexpr std::uint64_t kControlBit = std::uint64_t{1} << 63;
inline constexpr int kChannelShift = 61;
inline constexpr int kChannelBits = 2;
inline constexpr std::uint64_t kSingleCopyBit = std::uint64_t{1} << 60;
inline constexpr std::uint64_t kBackwardBit = std::uint64_t{1} << 32;
inline constexpr int kEdgeShift = 33;
inline constexpr int kEdgeBits = 60 - kEdgeShift;
inline constexpr std::uint32_t kMaxEdge = (std::uint32_t{1} << kEdgeBits) - 1;
inline constexpr std::uint64_t kFullMask = ~std::uint64_t{0};
// What a receive of the user's messages matches on: everything but the single-copy bit.
inline constexpr std::uint64_t kDataMask = kFullMask & ~kSingleCopyBit;

// Channel 0 of an edge carries the user's data; the others carry messages of the layer above
// (which numbers them) over the same link, so they never match the user's receives.
inline constexpr std::uint64_t kDataChannel = 0;
inline constexpr std::uint64_t kChannelCount = std::uint64_t{1} << kChannelBits;

// A channel other than the data channel. The number is checked when the constant is built, so
// an out-of-range channel does not compile.
class ControlChannel {
 public:
  consteval explicit ControlChannel(std::uint64_t number) : number_(number) {
    if (number == kDataChannel || number >= kChannelCount) {
      throw std::out_of_range("a control channel is numbered from 1 to kChannelCount - 1");
    }
  }
  [[nodiscard]] constexpr std::uint64_t number() const noexcept { return number_; }

 private:
  std::uint64_t number_;
};

// An edge's set-up messages as the Ring forms: the single-copy probe, and GPU mode's
// handshake (each with tags of its own).
inline constexpr ControlChannel kSetupChannel{3};

// The tag of the user's message `tag` on `edge` (channel 0).
constexpr std::uint64_t data_tag(std::uint32_t edge, bool backward, Tag tag) {
  return (std::uint64_t{edge} << kEdgeShift) | (backward ? kBackwardBit : 0) | tag;
}

// What channel `number` adds to a data tag.
constexpr std::uint64_t channel_bits(std::uint64_t number) { return number << kChannelShift; }

// Ring control tags (bit 63):
//   goodbye:   bits 0..31 the sending rank
//   ack:       bit 62 | bits 0..31 the sender's token (one byte: the outcome)
//   link probe: bit 61 | bit 60 (0: hello, 1: verdict) | bits 0..31 the sending rank
inline constexpr std::uint64_t kAckBit = std::uint64_t{1} << 62;
inline constexpr std::uint64_t kProbeBit = std::uint64_t{1} << 61;
inline constexpr std::uint64_t kProbeVerdictBit = std::uint64_t{1} << 60;

// A rank's goodbye to a neighbour, sent when its Ring closes.
constexpr std::uint64_t goodbye_tag(int from_rank) {
  return kControlBit | static_cast<std::uint32_t>(from_rank);
}

// The receiver's answer to a single-copy descriptor, to the sender's `token`.
constexpr std::uint64_t ack_tag(std::uint32_t token) { return kControlBit | kAckBit | token; }

// A rank's hello, or its verdict, in the single-copy probe of a link.
constexpr std::uint64_t probe_tag(int from_rank, bool verdict) {
  return kControlBit | kProbeBit | (verdict ? kProbeVerdictBit : 0) |
         static_cast<std::uint32_t>(from_rank);
}

}  // namespace ringpipe::ucx
