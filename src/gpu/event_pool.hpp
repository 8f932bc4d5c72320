// ringpipe: reusable plain CUDA events (no timing, not shared between processes), so steady
// traffic creates none.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

namespace ringpipe::gpu {

class EventPool {
 public:
  // `device`: the CUDA device the events belong to.
  explicit EventPool(int device) : device_(device) {}
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;
  // Destroys the free events; one still held is its holder's to drop.
  ~EventPool();

  // Throws Error when CUDA cannot create one.
  [[nodiscard]] cudaEvent_t acquire();
  // Back to the pool: only an event no stream will record or wait on any more.
  void release(cudaEvent_t event) noexcept;

 private:
  int device_;
  std::vector<cudaEvent_t> free_;
};

}  // namespace ringpipe::gpu
