// ringpipe: the proofs of the rendezvous authentication.
//
// On every connection the head sends a fresh nonce; the rank answers with its own nonce and
//   HMAC-SHA256(token, "ringpipe rendezvous rank" | head nonce | rank nonce | job id)
// and, once the head has checked that, the head proves itself with
//   HMAC-SHA256(token, "ringpipe rendezvous head" | rank nonce | head nonce | job id)
// (job id as 8 little-endian bytes). The labels keep one side's proof from serving as the
// other's, and each side's own nonce keeps old proofs from being replayed to it.
#pragma once

#include "rendezvous/wire.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace ringpipe::rendezvous {

// HMAC-SHA256 of `message` under `key` (OpenSSL's libcrypto). Throws Error{Internal} if
// libcrypto fails.
Mac hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> message);

Mac rank_proof(std::string_view token, const Nonce& head_nonce, const Nonce& rank_nonce,
               std::uint64_t job_id);
Mac head_proof(std::string_view token, const Nonce& head_nonce, const Nonce& rank_nonce,
               std::uint64_t job_id);

// Compares in time independent of where the proofs differ.
bool same_proof(const Mac& a, const Mac& b);

// A nonce from the kernel's random source.
Nonce fresh_nonce();

}  // namespace ringpipe::rendezvous
