// ring_bw: a build without CUDA has no device buffers.
#include "buffer.hpp"

#include <stdexcept>

namespace ring_bw {

std::unique_ptr<Buffer> make_device_buffer(std::size_t) {
  throw std::runtime_error("--device gpu: this build of ring_bw has no CUDA support");
}

}  // namespace ring_bw
