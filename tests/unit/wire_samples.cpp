// Test helpers of the rendezvous wire format.
#include "wire_samples.hpp"

#include <algorithm>
#include <random>
#include <span>

namespace ringpipe::rendezvous::test {

Bytes patterned_blob(std::size_t size, unsigned seed) {
  Bytes blob(size);
  std::mt19937 random(seed);
  for (std::byte& b : blob) b = static_cast<std::byte>(random());
  return blob;
}

Hello sample_hello() {
  Hello hello;
  hello.library_version = "0.1.0";
  hello.world_size = 8;
  hello.rank = 5;
  hello.local_rank = 1;
  hello.job_id = 0x0123456789abcdefull;
  hello.comm_device = 1;
  hello.host = "node-17.cluster";
  // Bytes that a string terminator or a sign extension would damage.
  hello.host_identity = std::string("node-17/boot\0id\xff\x80", 17);
  hello.gpu_identity = "GPU-8a3f0c1e-5b7d-4e2a-9c61-0d4b2e7f9a13";
  hello.address = patterned_blob(1536, 1);
  hello.liveness_host = "10.1.2.17";
  hello.liveness_port = 0xfedc;
  return hello;
}

PeerRecord sample_record(std::uint32_t rank, unsigned seed) {
  return PeerRecord{rank,
                    "host-" + std::to_string(rank),
                    "host-" + std::to_string(rank) + "/boot",
                    "GPU-" + std::to_string(seed),
                    patterned_blob(300 + seed, seed),
                    "10.0.0." + std::to_string(rank),
                    static_cast<std::uint16_t>(40000 + seed)};
}

Bytes sample_secret() { return patterned_blob(kRingSecretSize, 77); }

Peers sample_peers() { return Peers{sample_record(4, 2), sample_record(6, 3), sample_secret()}; }

namespace {

template <std::size_t N>
std::array<std::byte, N> patterned_array(unsigned seed) {
  const Bytes bytes = patterned_blob(N, seed);
  std::array<std::byte, N> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

}  // namespace

AuthChallenge sample_challenge() { return AuthChallenge{true, patterned_array<kNonceSize>(31)}; }

AuthResponse sample_response() {
  return AuthResponse{0xfedcba9876543210ull, true, patterned_array<kNonceSize>(32),
                      patterned_array<kMacSize>(33)};
}

AuthProof sample_proof() { return AuthProof{patterned_array<kMacSize>(34)}; }

Bytes payload_of(const Bytes& frame, FrameType type) {
  EXPECT_GE(frame.size(), kHeaderSize);
  const FrameHeader header = decode_header(std::span(frame).first(kHeaderSize));
  EXPECT_EQ(header.type, type);
  EXPECT_EQ(header.payload_size, frame.size() - kHeaderSize);
  return Bytes(frame.begin() + kHeaderSize, frame.end());
}

Bytes header_bytes(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                   std::uint32_t size) {
  Bytes out;
  const auto put = [&out](std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
  };
  put(magic, 4);
  put(version, 2);
  put(type, 2);
  put(size, 4);
  return out;
}

void put_u32_at(Bytes& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::byte>(value >> (8 * i));
}

std::vector<Field> hello_layout(const Hello& hello) {
  return {{"library version", 4 + hello.library_version.size()},
          {"world size", 4},
          {"rank", 4},
          {"local rank", 4},
          {"job id", 8},
          {"comm device", 1},
          {"host", 4 + hello.host.size()},
          {"host identity", 4 + hello.host_identity.size()},
          {"GPU identity", 4 + hello.gpu_identity.size()},
          {"address", 4 + hello.address.size()},
          {"liveness host", 4 + hello.liveness_host.size()},
          {"liveness port", 2}};
}

std::vector<Field> peers_layout(const Peers& peers) {
  std::vector<Field> layout;
  for (const PeerRecord* record : {&peers.pred, &peers.succ}) {
    layout.push_back({"rank", 4});
    layout.push_back({"host", 4 + record->host.size()});
    layout.push_back({"host identity", 4 + record->host_identity.size()});
    layout.push_back({"GPU identity", 4 + record->gpu_identity.size()});
    layout.push_back({"address", 4 + record->address.size()});
    layout.push_back({"liveness host", 4 + record->liveness_host.size()});
    layout.push_back({"liveness port", 2});
  }
  layout.push_back({"ring secret", 4 + peers.ring_secret.size()});
  return layout;
}

std::vector<Field> error_layout(const ErrorReply& error) {
  return {{"code", 2}, {"message", 4 + error.message.size()}};
}

std::vector<Field> challenge_layout() {
  return {{"head has token", 1}, {"head nonce", kNonceSize}};
}

std::vector<Field> response_layout() {
  return {{"job id", 8}, {"rank has token", 1}, {"rank nonce", kNonceSize}, {"proof", kMacSize}};
}

std::vector<Field> proof_layout() { return {{"proof", kMacSize}}; }

std::size_t hello_offset_of(const Hello& hello, std::string_view name) {
  std::size_t offset = 0;
  for (const Field& field : hello_layout(hello)) {
    if (field.name == name) return offset;
    offset += field.size;
  }
  ADD_FAILURE() << "no field " << name;
  return 0;
}

}  // namespace ringpipe::rendezvous::test
