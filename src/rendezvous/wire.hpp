// ringpipe: the rendezvous wire format. Every frame is a fixed header followed by a payload:
//
//   u32 magic "RPRV" | u16 protocol version | u16 frame type | u32 payload length | payload
//
// Integers are little-endian; strings and byte blobs are a u32 length then the bytes. Every
// length is checked against a bound before anything is allocated, so a decoder fed arbitrary
// bytes throws Error{ProtocolMismatch} and never over-reads or over-allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ringpipe::rendezvous {

inline constexpr std::uint32_t kMagic = 0x56525052;  // "RPRV" on the wire
inline constexpr std::uint16_t kProtocolVersion = 4;
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::uint32_t kMaxPayload = 64 * 1024;
inline constexpr std::uint32_t kMaxAddress = 16 * 1024;  // UCX worker addresses are ~0.3-2 KiB
inline constexpr std::uint32_t kMaxText = 1024;
inline constexpr std::size_t kRingSecretSize = 16;
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::size_t kMacSize = 32;  // HMAC-SHA256

enum class FrameType : std::uint16_t {
  Hello = 1,  // rank -> head: who I am and how to reach me
  Peers = 2,  // head -> rank: the records of my predecessor and successor
  Ready = 3,  // rank -> head: my links to both neighbours exist
  Go = 4,     // head -> rank: every rank is ready (the release barrier)
  Error = 5,  // head -> rank: why the head rejects this rank or aborts the rendezvous
  // The authentication exchange comes first on every connection; a rank sends its Hello only
  // after the head proved that it knows the token.
  AuthChallenge = 6,  // head -> rank: a fresh nonce, and whether the head has a token
  AuthResponse = 7,   // rank -> head: a fresh nonce and the rank's proof of the token
  Abandon = 8,    // rank -> head: my deadline passed; answer with an Error saying who is missing
  AuthProof = 9,  // head -> rank: the head's proof of the token (or an Error: AuthFailed)
};

struct FrameHeader {
  FrameType type;
  std::uint32_t payload_size;
};

using Nonce = std::array<std::byte, kNonceSize>;
using Mac = std::array<std::byte, kMacSize>;

struct AuthChallenge {
  bool head_has_token = false;
  Nonce head_nonce{};
};

struct AuthResponse {
  // Sent so that a rank of another job is told so, not that its token is wrong.
  std::uint64_t job_id = 0;
  bool rank_has_token = false;
  Nonce rank_nonce{};
  Mac proof{};  // see rendezvous/auth.hpp; all zero when either side has no token
};

struct AuthProof {
  Mac proof{};  // all zero when the head has no token
};

struct Hello {
  std::string library_version;
  std::uint32_t world_size = 0;
  std::uint32_t rank = 0;
  std::uint32_t local_rank = 0;
  std::uint64_t job_id = 0;
  std::uint8_t comm_device = 0;
  std::string host;                // host name
  std::string host_identity;       // host name + boot id: equal only for processes of one host
  std::string gpu_identity;        // GPU mode: the UUID of the rank's GPU; "" in CPU mode
  std::vector<std::byte> address;  // transport address (UCX worker address)
  // Where the rank's liveness listener waits for its predecessor (numeric host, TCP port).
  std::string liveness_host;
  std::uint16_t liveness_port = 0;
};

struct PeerRecord {
  std::uint32_t rank = 0;
  std::string host;
  std::string host_identity;
  std::string gpu_identity;
  std::vector<std::byte> address;
  std::string liveness_host;
  std::uint16_t liveness_port = 0;
};

struct Peers {
  PeerRecord pred;
  PeerRecord succ;
  // Made by the head for this ring only: a neighbour proves with it that it took part in this
  // rendezvous when it opens its liveness connection.
  std::vector<std::byte> ring_secret;
};

struct ErrorReply {
  std::uint16_t code = 0;  // a ringpipe::Errc value
  std::string message;
};

// Header checks: magic, version, known type, payload bound. Throws ProtocolMismatch.
FrameHeader decode_header(std::span<const std::byte> header);

// Whole frames (header + payload).
std::vector<std::byte> encode(const AuthChallenge& challenge);
std::vector<std::byte> encode(const AuthResponse& response);
std::vector<std::byte> encode(const AuthProof& proof);
std::vector<std::byte> encode(const Hello& hello);
std::vector<std::byte> encode(const Peers& peers);
std::vector<std::byte> encode(const ErrorReply& error);
std::vector<std::byte> encode_empty(FrameType type);

// Payload decoders (the header is decoded separately). Each throws ProtocolMismatch naming the
// field on any malformed input, including trailing bytes.
AuthChallenge decode_auth_challenge(std::span<const std::byte> payload);
AuthResponse decode_auth_response(std::span<const std::byte> payload);
AuthProof decode_auth_proof(std::span<const std::byte> payload);
Hello decode_hello(std::span<const std::byte> payload);
Peers decode_peers(std::span<const std::byte> payload);
ErrorReply decode_error(std::span<const std::byte> payload);

}  // namespace ringpipe::rendezvous
