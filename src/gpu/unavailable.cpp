// ringpipe: GPU mode in a build without the CUDA toolkit: every entry point says so.
#include <ringpipe/error.hpp>

#include "gpu/gpu_mode.hpp"

namespace ringpipe::gpu {

LocalDevice open_device(const Options& options) {
  throw Error(Errc::Unsupported,
              "rank " + std::to_string(options.rank) +
                  ": GPU mode is not available: this build of ringpipe was compiled without "
                  "the CUDA toolkit (CPU mode only)");
}

std::unique_ptr<GpuEdges> make_edges(ucx::Worker&, ucx::UcxPipe&, ucx::UcxPipe&, const EdgePeer&,
                                     const EdgePeer&, const Options& options, const LocalDevice&,
                                     bool, const detail::Deadline&) {
  (void)open_device(options);  // throws
  return nullptr;
}

}  // namespace ringpipe::gpu
