// libFuzzer target: arbitrary bytes as a rendezvous frame. The decoder must answer every input
// with a value or Error{ProtocolMismatch}, never crash, over-read, over-allocate or hang; a
// decoded frame must encode back to the same bytes.
#include <ringpipe/error.hpp>

#include "rendezvous/wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

using namespace ringpipe;
using namespace ringpipe::rendezvous;

namespace {

// Re-encoding what was decoded gives the frame back: nothing was dropped or invented.
void expect_round_trip(std::span<const std::byte> frame, const std::vector<std::byte>& again) {
  if (again.size() != frame.size() || !std::equal(again.begin(), again.end(), frame.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), size);
  if (frame.size() < kHeaderSize) return 0;
  try {
    const FrameHeader header = decode_header(frame.first(kHeaderSize));
    const auto payload = frame.subspan(kHeaderSize);
    if (payload.size() != header.payload_size) return 0;
    switch (header.type) {
      case FrameType::Hello:
        expect_round_trip(frame, encode(decode_hello(payload)));
        break;
      case FrameType::Peers:
        expect_round_trip(frame, encode(decode_peers(payload)));
        break;
      case FrameType::AuthChallenge:
        expect_round_trip(frame, encode(decode_auth_challenge(payload)));
        break;
      case FrameType::AuthResponse:
        expect_round_trip(frame, encode(decode_auth_response(payload)));
        break;
      case FrameType::AuthProof:
        expect_round_trip(frame, encode(decode_auth_proof(payload)));
        break;
      case FrameType::Error: {
        const ErrorReply error = decode_error(payload);
        if (error.message.size() <= kMaxText) expect_round_trip(frame, encode(error));
        break;
      }
      case FrameType::Ready:
      case FrameType::Go:
      case FrameType::Abandon:
        // Bare headers; the head refuses them with a payload.
        if (payload.empty()) expect_round_trip(frame, encode_empty(header.type));
        break;
    }
  } catch (const Error& error) {
    if (error.code() != Errc::ProtocolMismatch) std::abort();
  }
  return 0;
}
