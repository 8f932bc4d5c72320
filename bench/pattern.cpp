// ring_bw: a counter-based generator (splitmix64 of the word index), so any word of a message
// can be produced independently and filling 64 MiB costs milliseconds, not seconds.
#include "pattern.hpp"

#include <cstring>

namespace ring_bw {
namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t word_at(std::uint64_t seed, std::size_t index) {
  return mix(seed + (index + 1) * kGolden);
}

}  // namespace

std::uint64_t pattern_seed(int sender_rank, std::uint64_t iteration, std::size_t bytes) {
  return mix(mix(mix(static_cast<std::uint64_t>(sender_rank)) ^ iteration) ^ bytes);
}

void fill_pattern(std::byte* data, std::size_t bytes, std::uint64_t seed) {
  const std::size_t words = bytes / sizeof(std::uint64_t);
  for (std::size_t i = 0; i < words; ++i) {
    const std::uint64_t word = word_at(seed, i);
    std::memcpy(data + i * sizeof word, &word, sizeof word);
  }
  const std::uint64_t tail = word_at(seed, words);
  std::memcpy(data + words * sizeof tail, &tail, bytes % sizeof tail);
}

std::uint64_t count_wrong_bytes(const std::byte* data, std::size_t bytes, std::uint64_t seed) {
  std::uint64_t wrong = 0;
  const auto count_differing = [&wrong](const std::byte* got, std::uint64_t want, std::size_t n) {
    std::byte expected[sizeof want];
    std::memcpy(expected, &want, sizeof want);
    if (std::memcmp(got, expected, n) == 0) return;
    for (std::size_t b = 0; b < n; ++b) wrong += got[b] != expected[b] ? 1 : 0;
  };
  const std::size_t words = bytes / sizeof(std::uint64_t);
  for (std::size_t i = 0; i < words; ++i) {
    count_differing(data + i * sizeof(std::uint64_t), word_at(seed, i), sizeof(std::uint64_t));
  }
  count_differing(data + words * sizeof(std::uint64_t), word_at(seed, words),
                  bytes % sizeof(std::uint64_t));
  return wrong;
}

}  // namespace ring_bw
