// ringpipe: the receiver's side of a single copy: reading a neighbour's bytes straight into the
// receive buffer, through process_vm_readv or through a mapping of its registered buffer.
#pragma once

#include "single_copy/descriptor.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringpipe::single_copy {

struct ReadResult {
  enum class Status { Ok, PeerGone, Failed };
  Status status = Status::Ok;
  std::string why;  // empty when Ok
};

// Keeps the mappings of neighbours' registered buffers: each is mapped (read-only) at its first
// message and reused after. At most `max_mappings` are kept; when a buffer not yet mapped comes,
// those whose buffer the neighbour has since freed are unmapped first, then the least recently
// used if still full. One per Ring; not thread-safe.
class PeerReader {
 public:
  explicit PeerReader(std::size_t max_mappings = 64);
  PeerReader(const PeerReader&) = delete;
  PeerReader& operator=(const PeerReader&) = delete;
  ~PeerReader();

  // Copies the descriptor's bytes from process `pid` into `destination`.
  ReadResult read(pid_t pid, const Descriptor& descriptor, void* destination);

  [[nodiscard]] std::size_t mappings() const noexcept { return mappings_.size(); }

 private:
  struct Mapping {
    pid_t pid = 0;
    std::uint64_t serial = 0;
    int fd = -1;  // in the neighbour
    const std::byte* base = nullptr;
    std::size_t size = 0;
    std::uint64_t last_use = 0;
  };

  ReadResult read_process(pid_t pid, const Descriptor& descriptor, void* destination);
  ReadResult read_mapped(pid_t pid, const Descriptor& descriptor, void* destination);
  // Maps the descriptor's buffer; on failure returns nullptr and says why in `result`.
  const Mapping* map(pid_t pid, const Descriptor& descriptor, ReadResult& result);
  // Unmaps the mappings whose buffer is gone from its owner (freed, or the owner exited).
  void unmap_freed();
  void unmap(std::size_t index) noexcept;

  std::size_t max_mappings_;
  std::vector<Mapping> mappings_;
  std::uint64_t uses_ = 0;
};

// Whether the file open as `own_fd` here is the memfd of registered buffer `serial`.
bool is_registered_file(int own_fd, std::uint64_t serial);

}  // namespace ringpipe::single_copy
