// Liveness frames: every frame the monitor sends decodes to itself; anything else is refused.
#include "liveness/wire.hpp"

#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>

namespace ringpipe::liveness {
namespace {

bool same(const Frame& a, const Frame& b) {
  return a.type == b.type && a.reason == b.reason && a.origin == b.origin && a.cause == b.cause;
}

TEST(LivenessWire, EveryFrameTheMonitorSendsRoundTrips) {
  const std::array frames = {
      Frame{FrameType::Heartbeat, Reason{}, 0, 0},
      Frame{FrameType::Closing, Reason{}, 0, 0},
      Frame{FrameType::Notice, Reason::Died, 7, 0},
      Frame{FrameType::Notice, Reason::Stalled, 1, 0},
      Frame{FrameType::Notice, Reason::Aborted, 4095, 0},
      Frame{FrameType::Notice, Reason::LinkFailed, 3, static_cast<std::uint16_t>(Errc::Timeout)},
  };
  for (const Frame& frame : frames) {
    const auto decoded = decode_frame(encode(frame));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_TRUE(same(*decoded, frame));
  }
}

TEST(LivenessWire, FramesOutsideTheProtocolAreRefused) {
  const auto refused = [](std::uint8_t type, std::uint8_t reason, std::uint16_t cause) {
    std::array<std::byte, kFrameSize> bytes{};
    bytes[0] = std::byte{type};
    bytes[1] = std::byte{reason};
    bytes[2] = static_cast<std::byte>(cause & 0xff);
    bytes[3] = static_cast<std::byte>(cause >> 8);
    return !decode_frame(bytes).has_value();
  };
  EXPECT_TRUE(refused(0, 0, 0));  // no such type
  EXPECT_TRUE(refused(4, 0, 0));  // no such type
  EXPECT_TRUE(refused(2, 0, 0));  // a notice without why
  EXPECT_TRUE(refused(2, 5, 0));  // no such reason
  EXPECT_TRUE(refused(1, 1, 0));  // a beat with a reason
  EXPECT_TRUE(refused(2, 1, 1));  // a cause, not a link
  EXPECT_TRUE(refused(2, 4, static_cast<std::uint16_t>(Errc::Internal) + 1));  // no such code
  EXPECT_FALSE(refused(2, 4, static_cast<std::uint16_t>(Errc::Truncated)));
}

}  // namespace
}  // namespace ringpipe::liveness
