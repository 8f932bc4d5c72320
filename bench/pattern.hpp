// ring_bw: the data each message carries, so the receiver can check every byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ring_bw {

// Differs for every sender, iteration and size, so data from another rank, an earlier
// iteration or another step of the sweep never passes verification.
std::uint64_t pattern_seed(int sender_rank, std::uint64_t iteration, std::size_t bytes);

void fill_pattern(std::byte* data, std::size_t bytes, std::uint64_t seed);

// Number of bytes of data[0, bytes) that differ from fill_pattern(seed).
std::uint64_t count_wrong_bytes(const std::byte* data, std::size_t bytes, std::uint64_t seed);

}  // namespace ring_bw
