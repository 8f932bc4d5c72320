// Unit tests of the rendezvous wire format: rejection of every class of malformed input with
// Error{ProtocolMismatch} (never a crash, an over-read or another exception type).
#include <ringpipe/error.hpp>

#include "rendezvous/wire.hpp"

#include "wire_samples.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace ringpipe::rendezvous {
namespace {

using test::Bytes;
using test::error_layout;
using test::Field;
using test::header_bytes;
using test::hello_layout;
using test::hello_offset_of;
using test::patterned_blob;
using test::payload_of;
using test::peers_layout;
using test::put_u32_at;
using test::RejectedAsProtocolMismatch;
using test::sample_hello;
using test::sample_peers;
using test::sample_record;

// --- Malformed headers -------------------------------------------------------------------------

TEST(WireMalformedHeader, BadMagicIsRejectedNamingTheMagic) {
  Bytes header = encode_empty(FrameType::Ready);
  header[0] = std::byte{'X'};
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(header); }, {"bad magic"}));
  // An HTTP request is the classic stray client.
  const std::string http = "GET / HTTP/1.";
  const Bytes get(reinterpret_cast<const std::byte*>(http.data()),
                  reinterpret_cast<const std::byte*>(http.data()) + kHeaderSize);
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(get); },
                                         {"not a ringpipe rendezvous frame", "bad magic"}));
  // The magic in the wrong byte order.
  EXPECT_TRUE(RejectedAsProtocolMismatch(
      [&] { decode_header(header_bytes(0x52505256, kProtocolVersion, 1, 0)); }, {"bad magic"}));
}

TEST(WireMalformedHeader, OtherProtocolVersionsAreRejectedNamingBothVersions) {
  for (const std::uint16_t version : {std::uint16_t{0}, std::uint16_t{1},
                                      std::uint16_t{kProtocolVersion + 1}, std::uint16_t{0xffff}}) {
    const Bytes header = header_bytes(kMagic, version, 1, 0);
    EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(header); },
                                           {"protocol version " + std::to_string(version),
                                            "version " + std::to_string(kProtocolVersion)}))
        << "version " << version;
  }
}

TEST(WireMalformedHeader, UnknownFrameTypesAreRejectedNamingTheType) {
  for (const std::uint16_t type :
       {std::uint16_t{0}, std::uint16_t{10}, std::uint16_t{0x100}, std::uint16_t{0xffff}}) {
    const Bytes header = header_bytes(kMagic, kProtocolVersion, type, 0);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_header(header); }, {"unknown rendezvous frame type " + std::to_string(type)}))
        << "type " << type;
  }
}

TEST(WireMalformedHeader, PayloadSizeOverTheLimitIsRejectedBeforeAnythingIsAllocated) {
  for (const std::uint32_t size : {kMaxPayload + 1, std::uint32_t{0x7fffffff}, ~std::uint32_t{0}}) {
    const Bytes header =
        header_bytes(kMagic, kProtocolVersion, static_cast<std::uint16_t>(FrameType::Peers), size);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_header(header); },
        {std::to_string(size) + " bytes", "limit of " + std::to_string(kMaxPayload)}))
        << "size " << size;
  }
}

TEST(WireMalformedHeader, EveryTruncatedHeaderLengthIsRejected) {
  const Bytes header = encode_empty(FrameType::Go);
  for (std::size_t length = 0; length < kHeaderSize; ++length) {
    EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(std::span(header).first(length)); },
                                           {"truncated"}))
        << "length " << length;
  }
}

TEST(WireMalformedHeader, AHeaderSpanLongerThanTheHeaderIsRejected) {
  Bytes header = encode_empty(FrameType::Go);
  header.push_back(std::byte{0});
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(header); }, {"trailing"}));
}

// --- Malformed payloads ------------------------------------------------------------------------

// Cuts `payload` at every length short of complete; each prefix must be rejected naming the
// field the cut falls into.
template <class Decode>
void expect_every_prefix_rejected(const Bytes& payload, const std::vector<Field>& layout,
                                  Decode decode) {
  std::size_t total = 0;
  for (const Field& field : layout) total += field.size;
  ASSERT_EQ(total, payload.size()) << "the test's layout disagrees with the encoder";
  std::size_t field_index = 0;
  std::size_t field_end = layout[0].size;
  for (std::size_t length = 0; length < payload.size(); ++length) {
    while (length >= field_end) field_end += layout[++field_index].size;
    const Bytes prefix(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(length));
    ASSERT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode(prefix); }, {"truncated in field '" + layout[field_index].name + "'"}))
        << "prefix of " << length << " of " << payload.size() << " bytes";
  }
  EXPECT_NO_THROW(decode(payload)) << "the complete payload must decode";
}

TEST(WireMalformedPayload, HelloCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  Hello hello = sample_hello();
  hello.address = patterned_blob(24, 4);  // keeps the number of prefixes small; same fields
  expect_every_prefix_rejected(payload_of(encode(hello), FrameType::Hello), hello_layout(hello),
                               [](const Bytes& b) { decode_hello(b); });
}

TEST(WireMalformedPayload, HelloWithAKilobyteAddressCutAtEveryLengthIsRejected) {
  const Hello hello = sample_hello();
  expect_every_prefix_rejected(payload_of(encode(hello), FrameType::Hello), hello_layout(hello),
                               [](const Bytes& b) { decode_hello(b); });
}

TEST(WireMalformedPayload, PeersCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  const Peers peers{sample_record(1, 1), sample_record(2, 2), test::sample_secret()};
  expect_every_prefix_rejected(payload_of(encode(peers), FrameType::Peers), peers_layout(peers),
                               [](const Bytes& b) { decode_peers(b); });
}

TEST(WireMalformedPayload, ErrorReplyCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  const ErrorReply error{3, "rank 1 (127.0.0.1:4242) already joined"};
  expect_every_prefix_rejected(payload_of(encode(error), FrameType::Error), error_layout(error),
                               [](const Bytes& b) { decode_error(b); });
}

TEST(WireMalformedPayload, AuthChallengeCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  expect_every_prefix_rejected(
      payload_of(encode(test::sample_challenge()), FrameType::AuthChallenge),
      test::challenge_layout(), [](const Bytes& b) { decode_auth_challenge(b); });
}

TEST(WireMalformedPayload, AuthResponseCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  expect_every_prefix_rejected(payload_of(encode(test::sample_response()), FrameType::AuthResponse),
                               test::response_layout(),
                               [](const Bytes& b) { decode_auth_response(b); });
}

TEST(WireMalformedPayload, AuthProofCutAtEveryLengthIsRejectedNamingTheTruncatedField) {
  expect_every_prefix_rejected(payload_of(encode(test::sample_proof()), FrameType::AuthProof),
                               test::proof_layout(), [](const Bytes& b) { decode_auth_proof(b); });
}

// A flag is 0 or 1: any other byte would decode to the same value as 1 and re-encode differently.
TEST(WireMalformedPayload, TokenFlagsOtherThanZeroOrOneAreRejected) {
  for (const std::uint8_t value : {std::uint8_t{2}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
    Bytes challenge = payload_of(encode(test::sample_challenge()), FrameType::AuthChallenge);
    challenge[0] = std::byte{value};
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_auth_challenge(challenge); },
        {"AuthChallenge", "field 'head has token' is " + std::to_string(value)}));
    Bytes response = payload_of(encode(test::sample_response()), FrameType::AuthResponse);
    response[8] = std::byte{value};
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_auth_response(response); },
        {"AuthResponse", "field 'rank has token' is " + std::to_string(value)}));
  }
}

TEST(WireMalformedPayload, TextLengthOverTheTextLimitIsRejectedEvenWhenTheBytesArePresent) {
  // A host name of kMaxText + 1 bytes, really present: the bound alone must reject it.
  Hello hello = sample_hello();
  hello.host = std::string(kMaxText + 1, 'h');
  const Bytes payload = payload_of(encode(hello), FrameType::Hello);
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_hello(payload); },
                                         {"field 'host'", std::to_string(kMaxText + 1) + " bytes",
                                          "limit of " + std::to_string(kMaxText)}));

  for (const char* field : {"library version", "host", "host identity"}) {
    for (const std::uint32_t length : {kMaxText + 1, std::uint32_t{0x10000}, ~std::uint32_t{0}}) {
      const Hello sample = sample_hello();
      Bytes bad = payload_of(encode(sample), FrameType::Hello);
      put_u32_at(bad, hello_offset_of(sample, field), length);
      EXPECT_TRUE(RejectedAsProtocolMismatch(
          [&] { decode_hello(bad); },
          {"field '" + std::string(field) + "'", std::to_string(length), "limit"}))
          << field << " length " << length;
    }
  }
}

TEST(WireMalformedPayload, AddressLengthOverTheAddressLimitIsRejected) {
  for (const std::uint32_t length : {kMaxAddress + 1, kMaxPayload, ~std::uint32_t{0}}) {
    const Hello hello = sample_hello();
    Bytes bad = payload_of(encode(hello), FrameType::Hello);
    put_u32_at(bad, hello_offset_of(hello, "address"), length);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_hello(bad); },
        {"field 'address'", std::to_string(length), "limit of " + std::to_string(kMaxAddress)}))
        << "length " << length;
  }
  // The same bound holds in both records of a Peers frame.
  const Peers peers = sample_peers();
  Bytes bad = payload_of(encode(peers), FrameType::Peers);
  // The succ record's address is followed by its liveness host and port, then the secret.
  const std::size_t succ_address = bad.size() - (4 + peers.ring_secret.size()) - 2 -
                                   (4 + peers.succ.liveness_host.size()) - 4 -
                                   peers.succ.address.size();
  put_u32_at(bad, succ_address, kMaxAddress + 1);
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_peers(bad); }, {"field 'address'", "limit"}));
}

TEST(WireMalformedPayload, LengthWithinItsLimitButBeyondTheRemainingBytesIsRejected) {
  const Hello hello = sample_hello();
  Bytes bad = payload_of(encode(hello), FrameType::Hello);
  // Claim one byte more than follows the address's length field.
  const std::size_t offset = hello_offset_of(hello, "address");
  const std::size_t left = bad.size() - offset - 4;
  const auto claimed = static_cast<std::uint32_t>(left + 1);
  put_u32_at(bad, offset, claimed);
  EXPECT_TRUE(RejectedAsProtocolMismatch(
      [&] { decode_hello(bad); },
      {"truncated in field 'address'", "needs " + std::to_string(claimed) + " bytes",
       std::to_string(left) + " left"}));

  // A host string claiming more than the whole rest of the payload.
  Bytes bad_host = payload_of(encode(hello), FrameType::Hello);
  put_u32_at(bad_host, hello_offset_of(hello, "host"), kMaxText);
  Bytes tiny(bad_host.begin(),
             bad_host.begin() + static_cast<std::ptrdiff_t>(hello_offset_of(hello, "host") + 10));
  EXPECT_TRUE(
      RejectedAsProtocolMismatch([&] { decode_hello(tiny); }, {"truncated in field 'host'"}));

  const ErrorReply error{1, "short"};
  Bytes bad_error = payload_of(encode(error), FrameType::Error);
  put_u32_at(bad_error, 2, 6);
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_error(bad_error); },
                                         {"truncated in field 'message'"}));
}

TEST(WireMalformedPayload, TrailingBytesAfterAValidPayloadAreRejectedAndCounted) {
  for (const std::size_t extra : {std::size_t{1}, std::size_t{7}}) {
    Bytes hello = payload_of(encode(sample_hello()), FrameType::Hello);
    hello.resize(hello.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_hello(hello); },
        {"Hello", std::to_string(extra) + " unexpected trailing bytes"}));

    Bytes peers = payload_of(encode(sample_peers()), FrameType::Peers);
    peers.resize(peers.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_peers(peers); },
        {"Peers", std::to_string(extra) + " unexpected trailing bytes"}));

    Bytes error = payload_of(encode(ErrorReply{2, "m"}), FrameType::Error);
    error.resize(error.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_error(error); },
        {"Error", std::to_string(extra) + " unexpected trailing bytes"}));

    Bytes challenge = payload_of(encode(test::sample_challenge()), FrameType::AuthChallenge);
    challenge.resize(challenge.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_auth_challenge(challenge); },
        {"AuthChallenge", std::to_string(extra) + " unexpected trailing bytes"}));

    Bytes response = payload_of(encode(test::sample_response()), FrameType::AuthResponse);
    response.resize(response.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_auth_response(response); },
        {"AuthResponse", std::to_string(extra) + " unexpected trailing bytes"}));

    Bytes proof = payload_of(encode(test::sample_proof()), FrameType::AuthProof);
    proof.resize(proof.size() + extra);
    EXPECT_TRUE(RejectedAsProtocolMismatch(
        [&] { decode_auth_proof(proof); },
        {"AuthProof", std::to_string(extra) + " unexpected trailing bytes"}));
  }
}

TEST(WireMalformedPayload, EmptyPayloadsAreRejectedByEveryPayloadDecoder) {
  const Bytes empty;
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_hello(empty); }, {"Hello", "truncated"}));
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_peers(empty); }, {"Peers", "truncated"}));
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_error(empty); }, {"Error", "truncated"}));
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_auth_challenge(empty); },
                                         {"AuthChallenge", "truncated"}));
  EXPECT_TRUE(RejectedAsProtocolMismatch([&] { decode_auth_response(empty); },
                                         {"AuthResponse", "truncated"}));
  EXPECT_TRUE(
      RejectedAsProtocolMismatch([&] { decode_auth_proof(empty); }, {"AuthProof", "truncated"}));
}

// --- Arbitrary input ---------------------------------------------------------------------------

// Runs one decoder on arbitrary bytes: success or Error{ProtocolMismatch} only. A success must be
// canonical: encoding the result reproduces the input exactly.
template <class Decode, class Reencode>
void expect_only_protocol_mismatch(const Bytes& input, Decode decode, Reencode reencode,
                                   const char* what, int& accepted) {
  try {
    const auto value = decode(input);
    ++accepted;
    EXPECT_EQ(reencode(value), input) << what << ": accepted input is not canonical";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::ProtocolMismatch) << what << ": " << error.what();
  } catch (const std::exception& other) {
    ADD_FAILURE() << what << " threw a non-ringpipe exception: " << other.what();
  } catch (...) {
    ADD_FAILURE() << what << " threw something that is not an exception";
  }
}

void expect_every_decoder_copes_with(const Bytes& input, int& accepted) {
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_header(b); },
      [](const FrameHeader& h) {
        return header_bytes(kMagic, kProtocolVersion, static_cast<std::uint16_t>(h.type),
                            h.payload_size);
      },
      "decode_header", accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_hello(b); },
      [](const Hello& h) { return payload_of(encode(h), FrameType::Hello); }, "decode_hello",
      accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_peers(b); },
      [](const Peers& p) { return payload_of(encode(p), FrameType::Peers); }, "decode_peers",
      accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_error(b); },
      [](const ErrorReply& e) { return payload_of(encode(e), FrameType::Error); }, "decode_error",
      accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_auth_challenge(b); },
      [](const AuthChallenge& c) { return payload_of(encode(c), FrameType::AuthChallenge); },
      "decode_auth_challenge", accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_auth_response(b); },
      [](const AuthResponse& r) { return payload_of(encode(r), FrameType::AuthResponse); },
      "decode_auth_response", accepted);
  expect_only_protocol_mismatch(
      input, [](const Bytes& b) { return decode_auth_proof(b); },
      [](const AuthProof& p) { return payload_of(encode(p), FrameType::AuthProof); },
      "decode_auth_proof", accepted);
}

TEST(WireArbitraryInput, TenThousandRandomBuffersOnlyEverThrowProtocolMismatch) {
  std::mt19937_64 random(20240611);
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    // Mostly short buffers, where every decoder reaches its later fields; some long ones.
    const std::size_t size = (i % 10 == 0) ? random() % 70000 : random() % 64;
    Bytes input(size);
    for (std::byte& b : input) b = static_cast<std::byte>(random());
    // A quarter get a valid magic and version, so the header's type and size checks are reached.
    if (size >= kHeaderSize && i % 4 == 0) {
      const Bytes prefix = header_bytes(kMagic, kProtocolVersion, 0, 0);
      std::copy(prefix.begin(), prefix.begin() + 6, input.begin());
    }
    expect_every_decoder_copes_with(input, accepted);
    if (::testing::Test::HasFailure()) {
      FAIL() << "stopped at buffer " << i << " of " << size << " bytes";
    }
  }
  // Pure noise almost never decodes; acceptance is covered by the mutation test below.
}

TEST(WireArbitraryInput, RandomTwelveByteHeadersAreAcceptedExactlyWhenEveryCheckPasses) {
  std::mt19937_64 random(77);
  for (int i = 0; i < 10000; ++i) {
    const auto type = static_cast<std::uint16_t>(random() % 12);
    const std::uint32_t size = (i % 2 == 0)
                                   ? static_cast<std::uint32_t>(random() % (2 * kMaxPayload))
                                   : static_cast<std::uint32_t>(random());
    const bool good_magic = random() % 8 != 0;
    const bool good_version = random() % 8 != 0;
    const Bytes header =
        header_bytes(good_magic ? kMagic : static_cast<std::uint32_t>(random()),
                     good_version ? kProtocolVersion : kProtocolVersion + 1, type, size);
    const bool valid = good_magic && good_version && type >= 1 && type <= 9 && size <= kMaxPayload;
    if (valid) {
      const FrameHeader decoded = decode_header(header);
      ASSERT_EQ(static_cast<std::uint16_t>(decoded.type), type);
      ASSERT_EQ(decoded.payload_size, size);
    } else {
      ASSERT_TRUE(RejectedAsProtocolMismatch([&] { decode_header(header); }, {}))
          << "type " << type << " size " << size;
    }
  }
}

TEST(WireArbitraryInput, MutatedValidPayloadsDecodeCanonicallyOrThrowProtocolMismatch) {
  Hello hello = sample_hello();
  hello.address = patterned_blob(40, 8);
  const Peers peers{sample_record(1, 0), sample_record(2, 1), test::sample_secret()};
  const std::vector<Bytes> seeds = {
      payload_of(encode(hello), FrameType::Hello),
      payload_of(encode(peers), FrameType::Peers),
      payload_of(encode(ErrorReply{1, "m"}), FrameType::Error),
      payload_of(encode(test::sample_challenge()), FrameType::AuthChallenge),
      payload_of(encode(test::sample_response()), FrameType::AuthResponse),
      payload_of(encode(test::sample_proof()), FrameType::AuthProof)};
  std::mt19937_64 random(4242);
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    Bytes input = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const int mutations = 1 + static_cast<int>(random() % 4);
    for (int m = 0; m < mutations; ++m) {
      switch (random() % 4) {
        case 0:  // flip a byte
          if (!input.empty()) input[random() % input.size()] = static_cast<std::byte>(random());
          break;
        case 1:  // cut
          input.resize(random() % (input.size() + 1));
          break;
        case 2:  // append
          input.push_back(static_cast<std::byte>(random()));
          break;
        default:  // small length field value somewhere
          if (input.size() >= 4) {
            put_u32_at(input, random() % (input.size() - 3),
                       static_cast<std::uint32_t>(random() % 64));
          }
      }
    }
    expect_every_decoder_copes_with(input, accepted);
    if (::testing::Test::HasFailure()) FAIL() << "stopped at mutation " << i;
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace ringpipe::rendezvous
