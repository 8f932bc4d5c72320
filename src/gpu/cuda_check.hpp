// ringpipe: CUDA runtime results turned into ringpipe errors.
#pragma once

#include <ringpipe/error.hpp>

#include <cuda_runtime_api.h>

#include <string>

namespace ringpipe::gpu {

// "what: cudaErrorX (explanation)".
std::string describe(cudaError_t status, const std::string& what);

// Throws Error{code} describing `status` unless it is cudaSuccess. Clears CUDA's sticky
// "last error" so the next call does not report this one again.
void check(cudaError_t status, const std::string& what, Errc code = Errc::Internal);

}  // namespace ringpipe::gpu
