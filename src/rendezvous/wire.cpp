// ringpipe: encoding and bounds-checked decoding of rendezvous frames.
#include "rendezvous/wire.hpp"

#include <ringpipe/error.hpp>

#include <algorithm>
#include <cstring>

namespace ringpipe::rendezvous {
namespace {

class Writer {
 public:
  explicit Writer(FrameType type) {
    put_u32(kMagic);
    put_u16(kProtocolVersion);
    put_u16(static_cast<std::uint16_t>(type));
    put_u32(0);  // payload size, patched by finish()
  }

  void put_u8(std::uint8_t value) { bytes_.push_back(static_cast<std::byte>(value)); }
  void put_u16(std::uint16_t value) { put_le(value, 2); }
  void put_u32(std::uint32_t value) { put_le(value, 4); }
  void put_u64(std::uint64_t value) { put_le(value, 8); }
  void put_blob(std::span<const std::byte> blob) {
    put_u32(static_cast<std::uint32_t>(blob.size()));
    bytes_.insert(bytes_.end(), blob.begin(), blob.end());
  }
  void put_string(const std::string& text) { put_blob(std::as_bytes(std::span(text))); }
  // Fixed-size fields go without a length.
  void put_raw(std::span<const std::byte> bytes) {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  }

  std::vector<std::byte> finish() {
    const auto size = static_cast<std::uint32_t>(bytes_.size() - kHeaderSize);
    for (int i = 0; i < 4; ++i) bytes_[8 + i] = static_cast<std::byte>(size >> (8 * i));
    return std::move(bytes_);
  }

 private:
  void put_le(std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) bytes_.push_back(static_cast<std::byte>(value >> (8 * i)));
  }

  std::vector<std::byte> bytes_;
};

class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const char* frame) : bytes_(bytes), frame_(frame) {}

  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(le(1, field)); }
  std::uint16_t u16(const char* field) { return static_cast<std::uint16_t>(le(2, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(le(4, field)); }
  std::uint64_t u64(const char* field) { return le(8, field); }

  std::vector<std::byte> blob(const char* field, std::uint32_t bound) {
    const std::span<const std::byte> bytes = take(bounded_length(field, bound), field);
    return {bytes.begin(), bytes.end()};
  }

  template <std::size_t N>
  std::array<std::byte, N> raw(const char* field) {
    const std::span<const std::byte> bytes = take(N, field);
    std::array<std::byte, N> result;
    std::copy(bytes.begin(), bytes.end(), result.begin());
    return result;
  }

  // 0 or 1 only, so that every accepted payload has one encoding.
  bool flag(const char* field) {
    const std::uint8_t value = u8(field);
    if (value > 1) {
      fail("field '" + std::string(field) + "' is " + std::to_string(value) + ", not 0 or 1");
    }
    return value == 1;
  }

  std::string text(const char* field) {
    const std::span<const std::byte> bytes = take(bounded_length(field, kMaxText), field);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  void expect_end() const {
    if (offset_ != bytes_.size()) {
      fail("has " + std::to_string(bytes_.size() - offset_) + " unexpected trailing bytes");
    }
  }

 private:
  std::uint32_t bounded_length(const char* field, std::uint32_t bound) {
    const std::uint32_t length = u32(field);
    if (length > bound) {
      fail("field '" + std::string(field) + "' claims " + std::to_string(length) +
           " bytes, more than the limit of " + std::to_string(bound));
    }
    return length;
  }

  std::span<const std::byte> take(std::size_t count, const char* field) {
    if (count > bytes_.size() - offset_) {
      fail("is truncated in field '" + std::string(field) + "' (needs " + std::to_string(count) +
           " bytes, " + std::to_string(bytes_.size() - offset_) + " left)");
    }
    const std::span<const std::byte> result = bytes_.subspan(offset_, count);
    offset_ += count;
    return result;
  }

  std::uint64_t le(int width, const char* field) {
    const std::span<const std::byte> bytes = take(static_cast<std::size_t>(width), field);
    std::uint64_t value = 0;
    for (int i = 0; i < width; ++i) value |= std::to_integer<std::uint64_t>(bytes[i]) << (8 * i);
    return value;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::ProtocolMismatch, std::string("rendezvous ") + frame_ + " frame " + what);
  }

  std::span<const std::byte> bytes_;
  std::size_t offset_ = 0;
  const char* frame_;
};

void put_record(Writer& writer, const PeerRecord& record) {
  writer.put_u32(record.rank);
  writer.put_string(record.host);
  writer.put_string(record.host_identity);
  writer.put_string(record.gpu_identity);
  writer.put_blob(record.address);
  writer.put_string(record.liveness_host);
  writer.put_u16(record.liveness_port);
}

PeerRecord read_record(Reader& reader) {
  PeerRecord record;
  record.rank = reader.u32("rank");
  record.host = reader.text("host");
  record.host_identity = reader.text("host identity");
  record.gpu_identity = reader.text("GPU identity");
  record.address = reader.blob("address", kMaxAddress);
  record.liveness_host = reader.text("liveness host");
  record.liveness_port = reader.u16("liveness port");
  return record;
}

}  // namespace

FrameHeader decode_header(std::span<const std::byte> header) {
  Reader reader(header, "header of a");
  const std::uint32_t magic = reader.u32("magic");
  if (magic != kMagic) {
    throw Error(
        Errc::ProtocolMismatch, "not a ringpipe rendezvous frame (bad magic 0x" + [&] {
          char hex[16];
          std::snprintf(hex, sizeof hex, "%08x", magic);
          return std::string(hex);
        }() + ")");
  }
  const std::uint16_t version = reader.u16("version");
  if (version != kProtocolVersion) {
    throw Error(Errc::ProtocolMismatch, "rendezvous protocol version " + std::to_string(version) +
                                            " is not supported (this build speaks version " +
                                            std::to_string(kProtocolVersion) + ")");
  }
  const std::uint16_t type = reader.u16("type");
  const std::uint32_t size = reader.u32("payload size");
  reader.expect_end();
  const bool known = type >= static_cast<std::uint16_t>(FrameType::Hello) &&
                     type <= static_cast<std::uint16_t>(FrameType::AuthProof);
  if (!known) {
    throw Error(Errc::ProtocolMismatch, "unknown rendezvous frame type " + std::to_string(type));
  }
  if (size > kMaxPayload) {
    throw Error(Errc::ProtocolMismatch, "rendezvous frame payload of " + std::to_string(size) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(kMaxPayload));
  }
  return {static_cast<FrameType>(type), size};
}

std::vector<std::byte> encode(const AuthChallenge& challenge) {
  Writer writer(FrameType::AuthChallenge);
  writer.put_u8(challenge.head_has_token ? 1 : 0);
  writer.put_raw(challenge.head_nonce);
  return writer.finish();
}

std::vector<std::byte> encode(const AuthResponse& response) {
  Writer writer(FrameType::AuthResponse);
  writer.put_u64(response.job_id);
  writer.put_u8(response.rank_has_token ? 1 : 0);
  writer.put_raw(response.rank_nonce);
  writer.put_raw(response.proof);
  return writer.finish();
}

std::vector<std::byte> encode(const AuthProof& proof) {
  Writer writer(FrameType::AuthProof);
  writer.put_raw(proof.proof);
  return writer.finish();
}

std::vector<std::byte> encode(const Hello& hello) {
  Writer writer(FrameType::Hello);
  writer.put_string(hello.library_version);
  writer.put_u32(hello.world_size);
  writer.put_u32(hello.rank);
  writer.put_u32(hello.local_rank);
  writer.put_u64(hello.job_id);
  writer.put_u8(hello.comm_device);
  writer.put_string(hello.host);
  writer.put_string(hello.host_identity);
  writer.put_string(hello.gpu_identity);
  writer.put_blob(hello.address);
  writer.put_string(hello.liveness_host);
  writer.put_u16(hello.liveness_port);
  return writer.finish();
}

std::vector<std::byte> encode(const Peers& peers) {
  Writer writer(FrameType::Peers);
  put_record(writer, peers.pred);
  put_record(writer, peers.succ);
  writer.put_blob(peers.ring_secret);
  return writer.finish();
}

std::vector<std::byte> encode(const ErrorReply& error) {
  Writer writer(FrameType::Error);
  writer.put_u16(error.code);
  writer.put_string(error.message.size() > kMaxText ? error.message.substr(0, kMaxText)
                                                    : error.message);
  return writer.finish();
}

std::vector<std::byte> encode_empty(FrameType type) { return Writer(type).finish(); }

AuthChallenge decode_auth_challenge(std::span<const std::byte> payload) {
  Reader reader(payload, "AuthChallenge");
  AuthChallenge challenge;
  challenge.head_has_token = reader.flag("head has token");
  challenge.head_nonce = reader.raw<kNonceSize>("head nonce");
  reader.expect_end();
  return challenge;
}

AuthResponse decode_auth_response(std::span<const std::byte> payload) {
  Reader reader(payload, "AuthResponse");
  AuthResponse response;
  response.job_id = reader.u64("job id");
  response.rank_has_token = reader.flag("rank has token");
  response.rank_nonce = reader.raw<kNonceSize>("rank nonce");
  response.proof = reader.raw<kMacSize>("proof");
  reader.expect_end();
  return response;
}

AuthProof decode_auth_proof(std::span<const std::byte> payload) {
  Reader reader(payload, "AuthProof");
  AuthProof proof;
  proof.proof = reader.raw<kMacSize>("proof");
  reader.expect_end();
  return proof;
}

Hello decode_hello(std::span<const std::byte> payload) {
  Reader reader(payload, "Hello");
  Hello hello;
  hello.library_version = reader.text("library version");
  hello.world_size = reader.u32("world size");
  hello.rank = reader.u32("rank");
  hello.local_rank = reader.u32("local rank");
  hello.job_id = reader.u64("job id");
  hello.comm_device = reader.u8("comm device");
  hello.host = reader.text("host");
  hello.host_identity = reader.text("host identity");
  hello.gpu_identity = reader.text("GPU identity");
  hello.address = reader.blob("address", kMaxAddress);
  hello.liveness_host = reader.text("liveness host");
  hello.liveness_port = reader.u16("liveness port");
  reader.expect_end();
  return hello;
}

Peers decode_peers(std::span<const std::byte> payload) {
  Reader reader(payload, "Peers");
  Peers peers;
  peers.pred = read_record(reader);
  peers.succ = read_record(reader);
  peers.ring_secret = reader.blob("ring secret", kRingSecretSize);
  if (peers.ring_secret.size() != kRingSecretSize) {
    throw Error(Errc::ProtocolMismatch, "Peers frame: the ring secret has " +
                                            std::to_string(peers.ring_secret.size()) +
                                            " bytes, not " + std::to_string(kRingSecretSize));
  }
  reader.expect_end();
  return peers;
}

ErrorReply decode_error(std::span<const std::byte> payload) {
  Reader reader(payload, "Error");
  ErrorReply error;
  error.code = reader.u16("code");
  error.message = reader.text("message");
  reader.expect_end();
  return error;
}

}  // namespace ringpipe::rendezvous
