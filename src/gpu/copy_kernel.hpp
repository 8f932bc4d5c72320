// ringpipe: one kernel that copies several messages. Every CUDA call costs the host a few
// microseconds (about as much as copying 16 MiB takes the GPU), so copies matched together
// are launched together; the copy engine still takes single and very large copies.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace ringpipe::gpu {

struct CopySegment {
  const void* source = nullptr;
  void* destination = nullptr;
  std::size_t bytes = 0;
};

// What one launch copies; passed by value as the kernel's parameter.
struct CopyList {
  static constexpr int kCapacity = 32;
  CopySegment segments[kCapacity];
  int count = 0;
};

// False when this build has no CUDA compiler (the copy engine then takes every copy).
bool copy_kernel_available() noexcept;

// Enqueues on `stream` one kernel copying every segment of `list`; source and destination of
// each must be 16-byte aligned. `blocks`: grid size (a few per SM).
cudaError_t launch_copy_kernel(const CopyList& list, int blocks, cudaStream_t stream) noexcept;

}  // namespace ringpipe::gpu
