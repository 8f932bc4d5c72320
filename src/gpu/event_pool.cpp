// ringpipe: reusable plain CUDA events.
#include "gpu/event_pool.hpp"

#include "gpu/cuda_check.hpp"
#include "gpu/device_scope.hpp"

namespace ringpipe::gpu {

EventPool::~EventPool() {
  const DeviceScope scope(device_);
  for (cudaEvent_t event : free_) (void)cudaEventDestroy(event);
  (void)cudaGetLastError();
}

cudaEvent_t EventPool::acquire() {
  if (!free_.empty()) {
    cudaEvent_t event = free_.back();
    free_.pop_back();
    return event;
  }
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cannot create a CUDA event");
  return event;
}

void EventPool::release(cudaEvent_t event) noexcept {
  try {
    free_.push_back(event);
  } catch (...) {
    (void)cudaEventDestroy(event);
  }
}

}  // namespace ringpipe::gpu
