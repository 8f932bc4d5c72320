// ringpipe: a build without the CUDA toolkit, where every pointer is host memory.
#include "memory_kind.hpp"

namespace ringpipe {

MemoryKind memory_kind_of(const void*) noexcept { return MemoryKind::Host; }

std::optional<PointerInfo> query_pointer(const void*, bool) { return std::nullopt; }

}  // namespace ringpipe
