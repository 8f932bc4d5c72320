// ringpipe: CUDA runtime results turned into ringpipe errors.
#include "gpu/cuda_check.hpp"

namespace ringpipe::gpu {

std::string describe(cudaError_t status, const std::string& what) {
  return what + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
}

void fail(cudaError_t status, const std::string& what, Errc code) {
  (void)cudaGetLastError();
  throw Error(code, describe(status, what));
}

}  // namespace ringpipe::gpu
