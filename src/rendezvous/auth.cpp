// ringpipe: the proofs of the rendezvous authentication.
#include "rendezvous/auth.hpp"

#include <ringpipe/error.hpp>

#include "random_bytes.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ringpipe::rendezvous {
namespace {

Mac proof(std::string_view label, std::string_view token, const Nonce& first, const Nonce& second,
          std::uint64_t job_id) {
  std::vector<std::byte> message;
  const auto label_bytes = std::as_bytes(std::span(label));
  message.insert(message.end(), label_bytes.begin(), label_bytes.end());
  message.insert(message.end(), first.begin(), first.end());
  message.insert(message.end(), second.begin(), second.end());
  for (int i = 0; i < 8; ++i) message.push_back(static_cast<std::byte>(job_id >> (8 * i)));
  return hmac_sha256(std::as_bytes(std::span(token)), message);
}

}  // namespace

Mac hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> message) {
  Mac mac{};
  unsigned int length = 0;
  // An empty key is valid HMAC input, but OpenSSL may reject a null pointer for it.
  static const unsigned char kEmpty = 0;
  const void* key_data = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  const unsigned char* result =
      HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(),
           reinterpret_cast<unsigned char*>(mac.data()), &length);
  if (result == nullptr || length != mac.size()) {
    throw Error(Errc::Internal, "libcrypto failed to compute an HMAC-SHA256");
  }
  return mac;
}

Mac rank_proof(std::string_view token, const Nonce& head_nonce, const Nonce& rank_nonce,
               std::uint64_t job_id) {
  return proof("ringpipe rendezvous rank", token, head_nonce, rank_nonce, job_id);
}

Mac head_proof(std::string_view token, const Nonce& head_nonce, const Nonce& rank_nonce,
               std::uint64_t job_id) {
  return proof("ringpipe rendezvous head", token, rank_nonce, head_nonce, job_id);
}

bool same_proof(const Mac& a, const Mac& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Nonce fresh_nonce() {
  const std::vector<std::byte> bytes = detail::random_bytes(kNonceSize);
  Nonce nonce;
  std::copy(bytes.begin(), bytes.end(), nonce.begin());
  return nonce;
}

}  // namespace ringpipe::rendezvous
