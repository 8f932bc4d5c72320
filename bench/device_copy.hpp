// copy_bw: device-to-device copies on the GPU (CUDA builds; elsewhere they throw).
#pragma once

#include <cstddef>
#include <string>

namespace ring_bw {

// The name of CUDA device 0.
std::string device_name();

struct DeviceCopyTimes {
  double host_seconds = 0;  // per copy, each followed by a synchronise: what a waiting host sees
  double gpu_seconds = 0;   // per copy, back to back, by CUDA events: the copy engine alone
};

// Times cudaMemcpyAsync of `bytes` device to device. Throws std::runtime_error on a CUDA error
// or in a build without CUDA.
DeviceCopyTimes time_device_copy(std::size_t bytes, int warmup, int iterations);

}  // namespace ring_bw
