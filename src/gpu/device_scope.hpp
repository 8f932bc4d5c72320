// ringpipe: makes a rank's CUDA device current for a scope, whatever the calling thread had.
#pragma once

#include <cuda_runtime_api.h>

namespace ringpipe::gpu {

// Events, IPC mappings and copies belong to the rank's device; a user thread may have another
// device current (the runtime's current device is per thread). Restores it on exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device) noexcept {
    if (cudaGetDevice(&previous_) == cudaSuccess && previous_ != device) {
      switched_ = cudaSetDevice(device) == cudaSuccess;
    }
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  ~DeviceScope() {
    if (switched_) (void)cudaSetDevice(previous_);
  }

 private:
  int previous_ = -1;
  bool switched_ = false;
};

}  // namespace ringpipe::gpu
