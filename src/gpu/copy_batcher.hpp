// ringpipe: the receiver's copies of one CUDA IPC edge. Each CUDA call costs the host
// microseconds, about what the GPU needs to copy 16 MiB, so the copies matched in one progress
// pass go out together on the edge's own copy stream: one wait per stream they depend on, one
// kernel for several of them (copy_kernel.hpp), one event marking their end, which one query
// per pass checks (copies on one stream end in order).
#pragma once

#include "gpu/copy_kernel.hpp"
#include "gpu/event_pool.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace ringpipe::gpu {

class DeviceRequest;
class Engine;

class CopyBatcher {
 public:
  // `edge` names the receiving edge in messages; `peer` is the sending rank. `use_kernel`:
  // several copies may run as one kernel (Options::gpu_copy_kernel).
  CopyBatcher(Engine& engine, int device, std::string edge, int peer, bool use_kernel,
              EventPool& events);
  CopyBatcher(const CopyBatcher&) = delete;
  CopyBatcher& operator=(const CopyBatcher&) = delete;
  // Logs how well copies were grouped (RINGPIPE_LOG=info).
  ~CopyBatcher();

  // `request`'s copy joins the next batch, which the engine flushes at the end of the pass.
  void queue(DeviceRequest& request);
  // A request that finishes before its batch was flushed leaves it.
  void unqueue(DeviceRequest& request) noexcept;
  // Enqueues the batch: after each receive's stream and each sender's data (the newest event
  // of a stream stands for its older ones), the copies, then one event for them all. Each
  // request hears copy_enqueued() or, if CUDA refused, copy_failed().
  void flush() noexcept;
  // Tells the requests whose copies have ended (copy_landed()), oldest first.
  void reap() noexcept;
  // A request that finishes before its copy ended: the copy's event is kept until it does.
  void forget(DeviceRequest& request) noexcept;

 private:
  struct CopyInFlight {
    DeviceRequest* request;  // nullptr once it finished without waiting for the copy
    cudaEvent_t done;        // shared by the copies of one batch
    bool owns_event;         // the batch's last copy returns the event to the pool
  };

  cudaStream_t stream();
  // flush()'s CUDA calls; throws Error.
  void enqueue_batch();
  void wait_for_streams(cudaStream_t stream);
  // The batch's copies: several at once by one kernel, others by the copy engine.
  void enqueue_copies(cudaStream_t stream);

  Engine& engine_;
  int device_;
  std::string edge_;
  int peer_;
  EventPool& events_;
  cudaStream_t stream_ = nullptr;       // non-blocking: never waits for the legacy stream
  std::vector<DeviceRequest*> batch_;   // copies to enqueue at the end of this pass
  std::deque<CopyInFlight> in_flight_;  // enqueued copies, oldest first
  CopyList kernel_list_;
  bool kernel_works_;  // asked for, built, and (until a launch says otherwise) runnable
  int kernel_blocks_ = 1;
  std::uint64_t copies_ = 0;
  std::uint64_t batches_ = 0;
  std::size_t largest_batch_ = 0;
  std::uint64_t kernel_launches_ = 0;
};

}  // namespace ringpipe::gpu
