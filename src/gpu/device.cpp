// ringpipe: choosing and checking the CUDA device of a rank.
#include <ringpipe/error.hpp>

#include "gpu/cuda_check.hpp"
#include "gpu/gpu_mode.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ringpipe::gpu {
namespace {

std::string uuid_text(const cudaUUID_t& uuid) {
  // nvidia-smi's spelling: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
  std::string text = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(uuid.bytes[i]));
    text += hex;
  }
  return text;
}

// Why the runtime found no device, in words a user can act on.
std::string no_device_reason(cudaError_t status) {
  switch (status) {
    case cudaErrorInsufficientDriver:
      return "the NVIDIA driver is missing or older than this CUDA runtime (" +
             std::to_string(CUDART_VERSION / 1000) + "." +
             std::to_string(CUDART_VERSION % 1000 / 10) + ")";
    case cudaErrorNoDevice: {
      const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
      return std::string("no CUDA device is visible") +
             (visible ? std::string(" (CUDA_VISIBLE_DEVICES=\"") + visible + "\")" : "");
    }
    default:
      return describe(status, "the CUDA runtime cannot count devices");
  }
}

}  // namespace

LocalDevice open_device(const Options& options) {
  const std::string who = "rank " + std::to_string(options.rank) + ": GPU mode";
  int count = 0;
  const cudaError_t counted = cudaGetDeviceCount(&count);
  if (counted != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw Error(Errc::Unsupported,
                who + " has no usable GPU: " +
                    no_device_reason(counted == cudaSuccess ? cudaErrorNoDevice : counted));
  }
  if (options.local_rank >= count) {
    throw Error(Errc::InvalidArgument, who + ": local rank " + std::to_string(options.local_rank) +
                                           " selects CUDA device " +
                                           std::to_string(options.local_rank) +
                                           ", but this process sees " + std::to_string(count) +
                                           " device(s) (0.." + std::to_string(count - 1) + ")");
  }
  LocalDevice device;
  device.ordinal = options.local_rank;
  check(cudaSetDevice(device.ordinal),
        who + ": cannot use CUDA device " + std::to_string(device.ordinal), Errc::Unsupported);
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, device.ordinal),
        who + ": cannot read the properties of CUDA device " + std::to_string(device.ordinal),
        Errc::Unsupported);
  device.uuid = uuid_text(properties.uuid);
  device.name = properties.name;
  return device;
}

}  // namespace ringpipe::gpu
