// ringpipe: how a message's UCX tag names its edge, direction, channel and user tag.
#pragma once

#include <ringpipe/pipe_group.hpp>

#include <cstdint>
#include <stdexcept>

namespace ringpipe::ucx {

// All ranks share one tag space per worker, so a tag names the edge, the direction, the channel
// and the user's tag. Edge p joins rank p and rank (p+1) % N; "forward" is p -> p+1.
//   bit 63: ring control | bits 61..62: channel | bits 33..60: edge | bit 32: backward |
//   bits 0..31: tag
inline constexpr std::uint64_t kControlBit = std::uint64_t{1} << 63;
inline constexpr int kChannelShift = 61;
inline constexpr int kChannelBits = 2;
inline constexpr std::uint64_t kBackwardBit = std::uint64_t{1} << 32;
inline constexpr int kEdgeShift = 33;
inline constexpr int kEdgeBits = kChannelShift - kEdgeShift;
inline constexpr std::uint32_t kMaxEdge = (std::uint32_t{1} << kEdgeBits) - 1;
inline constexpr std::uint64_t kFullMask = ~std::uint64_t{0};

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

// The tag of the user's message `tag` on `edge` (channel 0).
constexpr std::uint64_t data_tag(std::uint32_t edge, bool backward, Tag tag) {
  return (std::uint64_t{edge} << kEdgeShift) | (backward ? kBackwardBit : 0) | tag;
}

// What channel `number` adds to a data tag.
constexpr std::uint64_t channel_bits(std::uint64_t number) { return number << kChannelShift; }

// A rank's goodbye to a neighbour, sent when its Ring closes.
constexpr std::uint64_t goodbye_tag(int from_rank) {
  return kControlBit | static_cast<std::uint32_t>(from_rank);
}

}  // namespace ringpipe::ucx
