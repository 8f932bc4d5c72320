// message_buffer: a build without CUDA has no device buffers.
#include "buffer.hpp"

#include <stdexcept>

namespace message_buffer {

std::unique_ptr<Buffer> make_device_buffer(std::size_t) {
  throw std::runtime_error("--device gpu: this build has no CUDA support");
}

}  // namespace message_buffer
