// Test helpers of the rendezvous wire format: sample frames, raw header bytes, the layout of each
// payload as the decoders name its fields, and the check that malformed input is rejected with
// Error{ProtocolMismatch}.
#pragma once

#include <ringpipe/error.hpp>

#include "rendezvous/wire.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe::rendezvous::test {

using Bytes = std::vector<std::byte>;

// `size` pseudo-random bytes, the same for the same seed.
Bytes patterned_blob(std::size_t size, unsigned seed);

Hello sample_hello();
PeerRecord sample_record(std::uint32_t rank, unsigned seed);
// 16 patterned bytes, the size of a ring secret.
Bytes sample_secret();
Peers sample_peers();
// Authentication frames with patterned nonces and proofs.
AuthChallenge sample_challenge();
AuthResponse sample_response();
AuthProof sample_proof();

// The payload of a whole frame, after checking its header says `type` and the right size.
Bytes payload_of(const Bytes& frame, FrameType type);

Bytes header_bytes(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                   std::uint32_t size);

void put_u32_at(Bytes& bytes, std::size_t offset, std::uint32_t value);

// One field of a payload as laid out on the wire, with the name decoders report it by.
struct Field {
  std::string name;
  std::size_t size;  // bytes it occupies, length prefix included
};

std::vector<Field> hello_layout(const Hello& hello);
std::vector<Field> peers_layout(const Peers& peers);
std::vector<Field> error_layout(const ErrorReply& error);
std::vector<Field> challenge_layout();
std::vector<Field> response_layout();
std::vector<Field> proof_layout();

// Offset of the length prefix of the named field of a Hello payload.
std::size_t hello_offset_of(const Hello& hello, std::string_view name);

// Checks that `decode` throws Error{ProtocolMismatch} whose what() contains every part.
template <class Decode>
::testing::AssertionResult RejectedAsProtocolMismatch(
    Decode&& decode, std::initializer_list<std::string_view> parts) {
  try {
    decode();
  } catch (const Error& error) {
    const std::string what = error.what();
    if (error.code() != Errc::ProtocolMismatch) {
      return ::testing::AssertionFailure()
             << "threw " << to_string(error.code()) << " instead of ProtocolMismatch: " << what;
    }
    for (const std::string_view part : parts) {
      if (what.find(part) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "the message does not mention \"" << part << "\": " << what;
      }
    }
    return ::testing::AssertionSuccess() << what;
  } catch (const std::exception& other) {
    return ::testing::AssertionFailure() << "threw a non-ringpipe exception: " << other.what();
  }
  return ::testing::AssertionFailure() << "accepted malformed input";
}

}  // namespace ringpipe::rendezvous::test
