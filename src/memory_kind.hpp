// ringpipe: what kind of memory a pointer is, asked without CUDA's headers. The driver is found
// through the CUDA runtime's entry-point query, so that no binary links libcuda (they must load
// on machines without a GPU driver); a build without CUDA answers "host" for every pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace ringpipe {

enum class MemoryKind {
  Host,        // what the host can read, managed (unified) memory included
  CudaDevice,  // CUDA device memory
};

// What `data` is. Never loads or initialises CUDA: the answer is Host unless the process already
// uses the CUDA driver, which is the only way it can hold device memory. Cheap enough for every
// message.
MemoryKind memory_kind_of(const void* data) noexcept;

// Where a pointer lives, as the driver sees it.
struct PointerInfo {
  bool device = false;          // CUDA device memory (not managed)
  bool managed = false;         // managed (unified) memory
  int ordinal = -1;             // the device it belongs to
  std::uint64_t buffer_id = 0;  // unique per allocation for the process's lifetime
  std::uintptr_t base = 0;      // the allocation it belongs to
  std::size_t range = 0;
};

// Asks the driver about `data`. Host memory (registered or not) gives device == false. Returns
// nullopt if the driver is not usable. `initialise` allows loading the driver; without it, only
// a driver the process already loaded is asked.
std::optional<PointerInfo> query_pointer(const void* data, bool initialise);

}  // namespace ringpipe
