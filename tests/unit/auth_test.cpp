// Unit tests of the rendezvous proofs: HMAC-SHA256 against RFC 4231, and what each proof covers.
#include "rendezvous/auth.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe::rendezvous {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes_of(std::string_view text) {
  const auto span = std::as_bytes(std::span(text));
  return Bytes(span.begin(), span.end());
}

std::string hex(const Mac& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::byte b : mac) {
    out += kHex[std::to_integer<unsigned>(b) >> 4];
    out += kHex[std::to_integer<unsigned>(b) & 0xf];
  }
  return out;
}

Nonce nonce_of(unsigned char fill) {
  Nonce nonce;
  nonce.fill(std::byte{fill});
  return nonce;
}

TEST(RendezvousAuth, HmacSha256MatchesRfc4231TestCases) {
  // Test case 1: a 20-byte key.
  EXPECT_EQ(hex(hmac_sha256(Bytes(20, std::byte{0x0b}), bytes_of("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  EXPECT_EQ(hex(hmac_sha256(bytes_of("Jefe"), bytes_of("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than SHA-256's block, which HMAC hashes first.
  EXPECT_EQ(hex(hmac_sha256(Bytes(131, std::byte{0xaa}),
                            bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// The definition both ends of every connection must agree on, whatever changes around it.
TEST(RendezvousAuth, ProofsAreHmacsOfTheLabelBothNoncesAndTheJobId) {
  const Nonce head = nonce_of(0x11);
  const Nonce rank = nonce_of(0x22);
  const std::uint64_t job = 0x0102030405060708ull;
  const auto message = [&](std::string_view label, const Nonce& first, const Nonce& second) {
    Bytes bytes = bytes_of(label);
    bytes.insert(bytes.end(), first.begin(), first.end());
    bytes.insert(bytes.end(), second.begin(), second.end());
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::byte>(job >> (8 * i)));
    return bytes;
  };
  EXPECT_EQ(rank_proof("secret", head, rank, job),
            hmac_sha256(bytes_of("secret"), message("ringpipe rendezvous rank", head, rank)));
  EXPECT_EQ(head_proof("secret", head, rank, job),
            hmac_sha256(bytes_of("secret"), message("ringpipe rendezvous head", rank, head)));
}

TEST(RendezvousAuth, EveryInputChangesTheProofAndTheTwoSidesNeverShareOne) {
  const Nonce head = nonce_of(1);
  const Nonce rank = nonce_of(2);
  const Mac base = rank_proof("token", head, rank, 7);
  EXPECT_NE(base, rank_proof("tokeN", head, rank, 7));
  EXPECT_NE(base, rank_proof("token", nonce_of(3), rank, 7));
  EXPECT_NE(base, rank_proof("token", head, nonce_of(3), 7));
  EXPECT_NE(base, rank_proof("token", head, rank, 8));
  // A head cannot be tricked into making a rank's proof, nor a rank a head's.
  EXPECT_NE(base, head_proof("token", head, rank, 7));
  EXPECT_NE(rank_proof("token", head, head, 7), head_proof("token", head, head, 7));
}

TEST(RendezvousAuth, SameProofComparesEveryByte) {
  const Mac a = rank_proof("token", nonce_of(1), nonce_of(2), 3);
  EXPECT_TRUE(same_proof(a, a));
  for (const std::size_t at : {std::size_t{0}, std::size_t{17}, kMacSize - 1}) {
    Mac b = a;
    b[at] ^= std::byte{1};
    EXPECT_FALSE(same_proof(a, b)) << "byte " << at;
  }
}

TEST(RendezvousAuth, FreshNoncesDiffer) {
  const Nonce a = fresh_nonce();
  const Nonce b = fresh_nonce();
  EXPECT_NE(a, b);
  EXPECT_NE(a, Nonce{});
}

}  // namespace
}  // namespace ringpipe::rendezvous
