// ringpipe: what a single-copy send tells its receiver, in place of the data.
#pragma once

#include <cstdint>
#include <type_traits>

namespace ringpipe::single_copy {

// How the receiver reaches the sender's bytes.
enum class Method : std::uint8_t {
  ReadProcess = 1,  // process_vm_readv of the sender's address range
  MappedFile = 2,   // memcpy from the sender's registered buffer, mapped once
};

// Sent over the edge with the message's own tag (plus the single-copy bit), so it matches and
// is ordered exactly as the data would be. The receiver tells it from a message of the same
// size by the magic and the sender's nonce (random, from the edge's probe): a user's message
// of 48 bytes matches both with probability 2^-96. Both ranks run the same library version.
struct Descriptor {
  static constexpr std::uint32_t kMagic = 0x52504331;  // "RPC1"

  std::uint32_t magic = kMagic;
  Method method = Method::ReadProcess;
  std::uint8_t reserved[3] = {};
  std::uint64_t nonce = 0;      // the sender's, as its probe hello gave it
  std::uint32_t ack_token = 0;  // the sender waits for the ack with this token
  std::int32_t fd = -1;         // MappedFile: the sender's memfd
  std::uint64_t size = 0;       // the message's bytes
  std::uint64_t address = 0;    // ReadProcess: the sender's address; MappedFile: the offset
  std::uint64_t serial = 0;     // MappedFile: the buffer, never reused by the sender
  std::uint64_t file_size = 0;  // MappedFile: the bytes to map
};
static_assert(std::is_trivially_copyable_v<Descriptor>);
static_assert(sizeof(Descriptor) == 56);

// The receiver's answer: the ack's one byte.
enum class Outcome : std::uint8_t {
  Copied = 0,     // the data landed
  Truncated = 1,  // the receive buffer was too small: nothing was copied (the send succeeds,
                  // as a truncated UCX message's does)
  Dropped = 2,    // the receive was cancelled or given up before the copy
  Failed = 3,     // the receiver could not read the sender's memory
};

}  // namespace ringpipe::single_copy
