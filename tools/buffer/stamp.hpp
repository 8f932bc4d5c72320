// A message that carries a word (its sender and round) at both ends: a lost, reordered or
// truncated message is caught without reading every byte of a large one.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace ringpipe::tools {

inline void stamp(std::vector<std::uint8_t>& buffer, std::size_t size, std::uint64_t word) {
  std::memcpy(buffer.data(), &word, sizeof word);
  std::memcpy(buffer.data() + size - sizeof word, &word, sizeof word);
}

inline bool stamped(const std::vector<std::uint8_t>& buffer, std::size_t size, std::uint64_t word) {
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  std::memcpy(&head, buffer.data(), sizeof head);
  std::memcpy(&tail, buffer.data() + size - sizeof tail, sizeof tail);
  return head == word && tail == word;
}

}  // namespace ringpipe::tools
