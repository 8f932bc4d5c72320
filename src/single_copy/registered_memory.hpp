// ringpipe: the process's registered buffers: shared-memory files a neighbour can map, and the
// table that finds the one a pointer lies in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ringpipe::single_copy {

// One registered buffer, as a neighbour needs it to map the memory.
struct Region {
  std::uint64_t serial = 0;  // never reused within the process
  std::byte* base = nullptr;
  std::size_t size = 0;    // the bytes asked for
  std::size_t mapped = 0;  // size rounded up to pages
  int fd = -1;             // the memfd; neighbours open it through /proc/<pid>/fd/<fd>
};

// Creates a zeroed, mapped memfd of `bytes` and registers it. Throws Error (InvalidArgument for
// 0 bytes, Internal when the system refuses).
Region allocate_region(std::size_t bytes);
// Unregisters, unmaps and closes the region starting at `base`; unknown bases are ignored.
void free_region(const void* base) noexcept;
// The region holding [data, data + bytes), if one does (bytes > 0).
std::optional<Region> find_region(const void* data, std::size_t bytes);

// The name a region's memfd carries, which a neighbour checks before mapping it: the link
// /proc/<pid>/fd/<fd> reads "/memfd:<name> (deleted)".
std::string region_file_name(std::uint64_t serial);

}  // namespace ringpipe::single_copy
