// ringpipe: what kind of memory a buffer is, asked without CUDA's headers.
#pragma once

namespace ringpipe::gpu {

// True if `data` is CUDA device memory (managed memory, which the host can read, is not).
// Never loads or initialises CUDA: the answer is false unless the process already uses the CUDA
// driver, which is the only way it can hold device memory. Cheap enough for every message.
bool is_cuda_memory(const void* data) noexcept;

}  // namespace ringpipe::gpu
