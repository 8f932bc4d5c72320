// Unit tests of the rendezvous wire format: round trips of every frame, and the exact bounds a
// well-formed frame may reach.
#include "rendezvous/wire.hpp"

#include "wire_samples.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringpipe::rendezvous {
namespace {

using test::Bytes;
using test::header_bytes;
using test::patterned_blob;
using test::payload_of;
using test::sample_hello;
using test::sample_peers;
using test::sample_record;

bool same_record(const PeerRecord& a, const PeerRecord& b) {
  return a.rank == b.rank && a.host == b.host && a.host_identity == b.host_identity &&
         a.gpu_identity == b.gpu_identity && a.address == b.address &&
         a.liveness_host == b.liveness_host && a.liveness_port == b.liveness_port;
}

TEST(WireRoundTrip, HeaderStartsWithMagicRPRVThenLittleEndianVersionTypeAndSize) {
  const Bytes frame = encode_empty(FrameType::Go);
  ASSERT_EQ(frame.size(), kHeaderSize);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(frame.data()), 4), "RPRV");
  EXPECT_EQ(frame[4], std::byte{kProtocolVersion & 0xff});
  EXPECT_EQ(frame[5], std::byte{kProtocolVersion >> 8});
  EXPECT_EQ(frame[6], std::byte{static_cast<std::uint8_t>(FrameType::Go)});
  EXPECT_EQ(frame[7], std::byte{0});
  for (std::size_t i = 8; i < 12; ++i) EXPECT_EQ(frame[i], std::byte{0}) << "payload size byte";
}

TEST(WireRoundTrip, HelloKeepsEveryFieldIncludingAKilobyteAddressAndBinaryText) {
  const Hello sent = sample_hello();
  const Bytes frame = encode(sent);
  const Hello got = decode_hello(payload_of(frame, FrameType::Hello));
  EXPECT_EQ(got.library_version, sent.library_version);
  EXPECT_EQ(got.world_size, sent.world_size);
  EXPECT_EQ(got.rank, sent.rank);
  EXPECT_EQ(got.local_rank, sent.local_rank);
  EXPECT_EQ(got.job_id, sent.job_id);
  EXPECT_EQ(got.comm_device, sent.comm_device);
  EXPECT_EQ(got.host, sent.host);
  EXPECT_EQ(got.gpu_identity, sent.gpu_identity);
  EXPECT_EQ(got.host_identity, sent.host_identity);
  EXPECT_EQ(got.address, sent.address);
  EXPECT_EQ(got.liveness_host, sent.liveness_host);
  EXPECT_EQ(got.liveness_port, sent.liveness_port);
}

TEST(WireRoundTrip, HelloKeepsExtremeIntegersAndEmptyFields) {
  Hello sent;
  sent.world_size = 0xffffffffu;
  sent.rank = 0xfffffffeu;
  sent.local_rank = 0x80000000u;
  sent.job_id = ~std::uint64_t{0};
  sent.comm_device = 0xff;
  const Hello got = decode_hello(payload_of(encode(sent), FrameType::Hello));
  EXPECT_TRUE(got.library_version.empty());
  EXPECT_EQ(got.world_size, sent.world_size);
  EXPECT_EQ(got.rank, sent.rank);
  EXPECT_EQ(got.local_rank, sent.local_rank);
  EXPECT_EQ(got.job_id, sent.job_id);
  EXPECT_EQ(got.comm_device, sent.comm_device);
  EXPECT_TRUE(got.host.empty());
  EXPECT_TRUE(got.host_identity.empty());
  EXPECT_TRUE(got.address.empty());
}

TEST(WireRoundTrip, HelloWithEveryFieldAtItsExactBoundIsAccepted) {
  Hello sent = sample_hello();
  sent.library_version = std::string(kMaxText, 'v');
  sent.host = std::string(kMaxText, 'h');
  sent.host_identity = std::string(kMaxText, 'i');
  sent.address = patterned_blob(kMaxAddress, 9);
  const Bytes frame = encode(sent);
  ASSERT_LE(frame.size() - kHeaderSize, kMaxPayload);
  const Hello got = decode_hello(payload_of(frame, FrameType::Hello));
  EXPECT_EQ(got.library_version, sent.library_version);
  EXPECT_EQ(got.host, sent.host);
  EXPECT_EQ(got.host_identity, sent.host_identity);
  EXPECT_EQ(got.address, sent.address);
}

TEST(WireRoundTrip, PeersKeepsPredAndSuccRecordsApart) {
  const Peers sent = sample_peers();
  const Peers got = decode_peers(payload_of(encode(sent), FrameType::Peers));
  EXPECT_TRUE(same_record(got.pred, sent.pred)) << "pred record changed";
  EXPECT_TRUE(same_record(got.succ, sent.succ)) << "succ record changed";
  EXPECT_EQ(got.ring_secret, sent.ring_secret) << "ring secret changed";
  EXPECT_EQ(got.pred.rank, 4u);
  EXPECT_EQ(got.succ.rank, 6u);
}

TEST(WireRoundTrip, PeersOfARingOfOneNameTheSameRankTwice) {
  const Peers sent{sample_record(0, 5), sample_record(0, 5), test::sample_secret()};
  const Peers got = decode_peers(payload_of(encode(sent), FrameType::Peers));
  EXPECT_TRUE(same_record(got.pred, sent.pred));
  EXPECT_TRUE(same_record(got.succ, sent.succ));
}

TEST(WireRoundTrip, ErrorReplyKeepsCodeAndMessage) {
  const ErrorReply sent{static_cast<std::uint16_t>(Errc::Timeout),
                        "rendezvous at 127.0.0.1:29500: waited 2.00 s for rank 2 of 3"};
  const ErrorReply got = decode_error(payload_of(encode(sent), FrameType::Error));
  EXPECT_EQ(got.code, sent.code);
  EXPECT_EQ(got.message, sent.message);
}

TEST(WireRoundTrip, ErrorReplyLongerThanTheTextLimitIsCutToTheLimitAndStillDecodes) {
  std::string message(3 * kMaxText, 'x');
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>('a' + i % 26);
  const ErrorReply got = decode_error(payload_of(
      encode(ErrorReply{static_cast<std::uint16_t>(Errc::Internal), message}), FrameType::Error));
  EXPECT_EQ(got.code, static_cast<std::uint16_t>(Errc::Internal));
  EXPECT_EQ(got.message, message.substr(0, kMaxText));
}

TEST(WireRoundTrip, AuthChallengeKeepsTheTokenFlagAndTheNonce) {
  for (const bool has_token : {true, false}) {
    AuthChallenge sent = test::sample_challenge();
    sent.head_has_token = has_token;
    const Bytes frame = encode(sent);
    EXPECT_EQ(frame.size(), kHeaderSize + 1 + kNonceSize);
    const AuthChallenge got = decode_auth_challenge(payload_of(frame, FrameType::AuthChallenge));
    EXPECT_EQ(got.head_has_token, has_token);
    EXPECT_EQ(got.head_nonce, sent.head_nonce);
  }
}

TEST(WireRoundTrip, AuthResponseKeepsJobIdFlagNonceAndProof) {
  const AuthResponse sent = test::sample_response();
  const Bytes frame = encode(sent);
  EXPECT_EQ(frame.size(), kHeaderSize + 8 + 1 + kNonceSize + kMacSize);
  const AuthResponse got = decode_auth_response(payload_of(frame, FrameType::AuthResponse));
  EXPECT_EQ(got.job_id, sent.job_id);
  EXPECT_EQ(got.rank_has_token, sent.rank_has_token);
  EXPECT_EQ(got.rank_nonce, sent.rank_nonce);
  EXPECT_EQ(got.proof, sent.proof);
  // A rank without a token sends an all-zero proof.
  const AuthResponse bare{0, false, {}, {}};
  const AuthResponse got_bare =
      decode_auth_response(payload_of(encode(bare), FrameType::AuthResponse));
  EXPECT_FALSE(got_bare.rank_has_token);
  EXPECT_EQ(got_bare.proof, Mac{});
}

TEST(WireRoundTrip, AuthProofKeepsTheProof) {
  const AuthProof sent = test::sample_proof();
  const Bytes frame = encode(sent);
  EXPECT_EQ(frame.size(), kHeaderSize + kMacSize);
  EXPECT_EQ(decode_auth_proof(payload_of(frame, FrameType::AuthProof)).proof, sent.proof);
}

TEST(WireRoundTrip, AuthFrameTypesAreSixSevenAndNine) {
  EXPECT_EQ(static_cast<std::uint16_t>(FrameType::AuthChallenge), 6);
  EXPECT_EQ(static_cast<std::uint16_t>(FrameType::AuthResponse), 7);
  EXPECT_EQ(static_cast<std::uint16_t>(FrameType::Abandon), 8);
  EXPECT_EQ(static_cast<std::uint16_t>(FrameType::AuthProof), 9);
  EXPECT_EQ(kProtocolVersion, 4);
}

TEST(WireRoundTrip, ReadyAndGoAreBareHeadersWithAnEmptyPayload) {
  for (const FrameType type : {FrameType::Ready, FrameType::Go}) {
    const Bytes frame = encode_empty(type);
    ASSERT_EQ(frame.size(), kHeaderSize);
    const FrameHeader header = decode_header(frame);
    EXPECT_EQ(header.type, type);
    EXPECT_EQ(header.payload_size, 0u);
  }
}

TEST(WireRoundTrip, HeaderAcceptsAPayloadOfExactlyTheLimit) {
  const FrameHeader header = decode_header(header_bytes(
      kMagic, kProtocolVersion, static_cast<std::uint16_t>(FrameType::Hello), kMaxPayload));
  EXPECT_EQ(header.type, FrameType::Hello);
  EXPECT_EQ(header.payload_size, kMaxPayload);
}

}  // namespace
}  // namespace ringpipe::rendezvous
