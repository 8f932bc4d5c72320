// copy_bw: a build without CUDA has no device copies.
#include "device_copy.hpp"

#include <stdexcept>

namespace ring_bw {

std::string device_name() { return "none"; }

DeviceCopyTimes time_device_copy(std::size_t, int, int) {
  throw std::runtime_error("--device gpu: this build has no CUDA support");
}

}  // namespace ring_bw
