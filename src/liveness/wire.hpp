// ringpipe: frames of the liveness connection between ring neighbours.
//
// Each edge of the ring has a TCP connection beside its UCX link, owned by a thread in each
// rank. It opens with a Hello from both ends, then carries fixed-size frames:
//
//   Hello: u32 magic "RPLV" | u16 version | u16 0 | u32 rank | u32 stall timeout (ms, 0 = none)
//          | 16-byte ring secret
//   Frame: u8 type | u8 reason | u16 cause | u32 origin rank
//
// `cause` is the ringpipe error code of a LinkFailed notice, 0 in every other frame.
//
// Integers are little-endian.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ringpipe::liveness {

inline constexpr std::uint32_t kMagic = 0x564c5052;  // "RPLV" on the wire
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kSecretSize = 16;
inline constexpr std::size_t kHelloSize = 16 + kSecretSize;
inline constexpr std::size_t kFrameSize = 8;

struct Hello {
  std::uint32_t rank = 0;
  std::chrono::milliseconds stall_timeout{0};  // 0: this rank never declares a neighbour stalled
  std::array<std::byte, kSecretSize> secret{};
};

enum class FrameType : std::uint8_t {
  Heartbeat = 1,  // sent regularly: the sender's process is running
  Notice = 2,     // the ring is broken: `origin` failed for `reason`
  Closing = 3,    // the sender closes its ring in order: the connection's end is no failure
};

// Why a ring broke, as carried by a Notice (other frames carry 0).
enum class Reason : std::uint8_t {
  Died = 1,        // the origin's process ended or its link broke
  Stalled = 2,     // the origin showed no sign of life for its neighbour's stall timeout
  Aborted = 3,     // the origin aborted the ring on purpose
  LinkFailed = 4,  // the origin failed its link to a neighbour (e.g. a send timed out there)
};

struct Frame {
  FrameType type = FrameType::Heartbeat;
  Reason reason{};
  std::uint32_t origin = 0;
  std::uint16_t cause = 0;  // LinkFailed: the origin's error code (an Errc)
};

std::array<std::byte, kHelloSize> encode(const Hello& hello);
std::array<std::byte, kFrameSize> encode(const Frame& frame);
// std::nullopt for bytes that are not a Hello or Frame of this version.
std::optional<Hello> decode_hello(std::span<const std::byte, kHelloSize> bytes);
std::optional<Frame> decode_frame(std::span<const std::byte, kFrameSize> bytes);

}  // namespace ringpipe::liveness
