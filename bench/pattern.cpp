// ring_bw: word i of a message is base + i * step, with base and step drawn from the seed
// (splitmix64): any word can be produced independently, every word of a message differs, a
// word moved by k places is off by k * step (odd, so never 0), and the loops vectorise, so
// filling and checking run at memory speed. That matters where ranks share cores: one rank's
// checking then runs beside another's timed transfer.
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

struct Sequence {
  explicit Sequence(std::uint64_t seed) : base(mix(seed)), step(mix(seed + kGolden) | 1) {}
  [[nodiscard]] std::uint64_t at(std::size_t index) const { return base + index * step; }
  std::uint64_t base;
  std::uint64_t step;
};

}  // namespace

std::uint64_t pattern_seed(int sender_rank, std::uint64_t iteration, std::size_t bytes) {
  return mix(mix(mix(static_cast<std::uint64_t>(sender_rank)) ^ iteration) ^ bytes);
}

void fill_pattern(std::byte* data, std::size_t bytes, std::uint64_t seed) {
  const Sequence sequence(seed);
  const std::size_t words = bytes / sizeof(std::uint64_t);
  std::uint64_t word = sequence.base;  // a running sum, not a multiply: the loop vectorises
  for (std::size_t i = 0; i < words; ++i, word += sequence.step) {
    std::memcpy(data + i * sizeof word, &word, sizeof word);
  }
  const std::uint64_t tail = sequence.at(words);
  std::memcpy(data + words * sizeof tail, &tail, bytes % sizeof tail);
}

std::uint64_t count_wrong_bytes(const std::byte* data, std::size_t bytes, std::uint64_t seed) {
  const Sequence sequence(seed);
  std::uint64_t wrong = 0;
  const auto count_differing = [&wrong](const std::byte* got, std::uint64_t want, std::size_t n) {
    std::byte expected[sizeof want];
    std::memcpy(expected, &want, sizeof want);
    for (std::size_t b = 0; b < n; ++b) wrong += got[b] != expected[b] ? 1 : 0;
  };
  const std::size_t words = bytes / sizeof(std::uint64_t);
  // Blocks of words compared at once (a loop without branches); only a block that differs is
  // counted byte by byte.
  constexpr std::size_t kBlock = 64;
  for (std::size_t first = 0; first < words; first += kBlock) {
    const std::size_t n = words - first < kBlock ? words - first : kBlock;
    std::uint64_t differ = 0;
    std::uint64_t want = sequence.at(first);
    for (std::size_t i = first; i < first + n; ++i, want += sequence.step) {
      std::uint64_t got = 0;
      std::memcpy(&got, data + i * sizeof got, sizeof got);
      differ |= got ^ want;
    }
    if (differ == 0) continue;
    for (std::size_t i = first; i < first + n; ++i) {
      count_differing(data + i * sizeof(std::uint64_t), sequence.at(i), sizeof(std::uint64_t));
    }
  }
  count_differing(data + words * sizeof(std::uint64_t), sequence.at(words),
                  bytes % sizeof(std::uint64_t));
  return wrong;
}

}  // namespace ring_bw
