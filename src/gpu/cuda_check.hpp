// ringpipe: CUDA runtime results turned into ringpipe errors.
#pragma once

#include <ringpipe/error.hpp>

#include <cuda_runtime_api.h>

#include <string>

namespace ringpipe::gpu {

// "what: cudaErrorX (explanation)".
std::string describe(cudaError_t status, const std::string& what);

// Throws Error{code} describing `status` (not cudaSuccess). Clears CUDA's sticky "last error"
// so the next call does not report this one again.
[[noreturn]] void fail(cudaError_t status, const std::string& what, Errc code = Errc::Internal);

// fail() unless `status` is cudaSuccess. Per-message paths test the status first instead, so
// the message is only built on failure.
inline void check(cudaError_t status, const std::string& what, Errc code = Errc::Internal) {
  if (status != cudaSuccess) fail(status, what, code);
}

}  // namespace ringpipe::gpu
