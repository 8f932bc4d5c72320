// message_buffer: host message buffers.
#include "buffer.hpp"

#include <vector>

namespace message_buffer {
namespace {

class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(std::size_t size) : bytes_(size) {}
  std::byte* data() override { return bytes_.data(); }
  std::byte* host() override { return bytes_.data(); }
  void upload(std::size_t) override {}
  void download(std::size_t) override {}

 private:
  std::vector<std::byte> bytes_;
};

}  // namespace

std::unique_ptr<Buffer> make_host_buffer(std::size_t size) {
  return std::make_unique<HostBuffer>(size);
}

}  // namespace message_buffer
