// message_buffer: CUDA device message buffers.
#include "buffer.hpp"

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace message_buffer {
namespace {

void check(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw std::runtime_error(what + ": " + cudaGetErrorString(status));
}

class DeviceBuffer final : public Buffer {
 public:
  explicit DeviceBuffer(std::size_t size) : host_(size) {
    check(cudaMalloc(&device_, size), "cudaMalloc of " + std::to_string(size) + " bytes");
  }
  ~DeviceBuffer() override { (void)cudaFree(device_); }

  std::byte* data() override { return static_cast<std::byte*>(device_); }
  std::byte* host() override { return host_.data(); }
  void upload(std::size_t bytes) override {
    check(cudaMemcpy(device_, host_.data(), bytes, cudaMemcpyHostToDevice), "upload");
    // From pageable memory cudaMemcpy may return before the DMA to the device has finished;
    // a transfer timed next would otherwise queue behind it.
    check(cudaDeviceSynchronize(), "upload");
  }
  void download(std::size_t bytes) override {
    check(cudaMemcpy(host_.data(), device_, bytes, cudaMemcpyDeviceToHost), "download");
  }

 private:
  void* device_ = nullptr;
  std::vector<std::byte> host_;
};

}  // namespace

std::unique_ptr<Buffer> make_device_buffer(std::size_t size) {
  return std::make_unique<DeviceBuffer>(size);
}

}  // namespace message_buffer
