// ringpipe: encoding and checked decoding of liveness frames.
#include "liveness/wire.hpp"

#include <ringpipe/error.hpp>

#include <algorithm>

namespace ringpipe::liveness {
namespace {

void put(std::byte* out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out[i] = static_cast<std::byte>(value >> (8 * i));
}

std::uint64_t get(const std::byte* in, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= std::to_integer<std::uint64_t>(in[i]) << (8 * i);
  return value;
}

}  // namespace

std::array<std::byte, kHelloSize> encode(const Hello& hello) {
  std::array<std::byte, kHelloSize> out{};
  put(&out[0], kMagic, 4);
  put(&out[4], kVersion, 2);
  put(&out[8], hello.rank, 4);
  const auto timeout = std::clamp<std::int64_t>(hello.stall_timeout.count(), 0, UINT32_MAX);
  put(&out[12], static_cast<std::uint64_t>(timeout), 4);
  std::copy(hello.secret.begin(), hello.secret.end(), out.begin() + 16);
  return out;
}

std::array<std::byte, kFrameSize> encode(const Frame& frame) {
  std::array<std::byte, kFrameSize> out{};
  put(&out[0], static_cast<std::uint8_t>(frame.type), 1);
  put(&out[1], static_cast<std::uint8_t>(frame.reason), 1);
  put(&out[2], frame.cause, 2);
  put(&out[4], frame.origin, 4);
  return out;
}

std::optional<Hello> decode_hello(std::span<const std::byte, kHelloSize> bytes) {
  if (get(&bytes[0], 4) != kMagic || get(&bytes[4], 2) != kVersion || get(&bytes[6], 2) != 0) {
    return std::nullopt;
  }
  Hello hello;
  hello.rank = static_cast<std::uint32_t>(get(&bytes[8], 4));
  hello.stall_timeout = std::chrono::milliseconds(get(&bytes[12], 4));
  std::copy(bytes.begin() + 16, bytes.end(), hello.secret.begin());
  return hello;
}

std::optional<Frame> decode_frame(std::span<const std::byte, kFrameSize> bytes) {
  const auto type = get(&bytes[0], 1);
  const auto reason = get(&bytes[1], 1);
  const auto cause = get(&bytes[2], 2);
  const bool notice = type == static_cast<std::uint8_t>(FrameType::Notice);
  const bool link_failed = notice && reason == static_cast<std::uint8_t>(Reason::LinkFailed);
  if (type < 1 || type > 3 || reason > 4 || (notice && reason == 0) || (!notice && reason != 0) ||
      (!link_failed && cause != 0) || cause > static_cast<std::uint64_t>(Errc::Internal)) {
    return std::nullopt;
  }
  return Frame{static_cast<FrameType>(type), static_cast<Reason>(reason),
               static_cast<std::uint32_t>(get(&bytes[4], 4)), static_cast<std::uint16_t>(cause)};
}

}  // namespace ringpipe::liveness
