// ringpipe: GPU mode's requests in flight, advanced on every progress call of the Ring's worker.
#pragma once

#include "ucx/worker.hpp"

#include <vector>

namespace ringpipe::gpu {

class CopyBatcher;
class DeviceRequest;

// A GPU transfer takes several steps (message, copy, reply) that must advance while the user
// waits on any request of the Ring, or two ranks waiting on each other's sends would deadlock.
// The engine hooks the worker's progress and advances every request in flight. It also pools
// the requests, so steady-state traffic allocates nothing.
class Engine {
 public:
  // `device`: the rank's CUDA device, made current while requests advance.
  Engine(ucx::Worker& worker, int device);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  // Detaches every request still held by a user: later calls on it throw Errc::Closed.
  ~Engine();

  [[nodiscard]] ucx::Worker& worker() noexcept { return worker_; }

  [[nodiscard]] DeviceRequest* acquire();
  // Advanced on every progress call until it reports it is settled.
  void track(DeviceRequest* request);
  // Back to the pool. A request released while still in flight stays tracked and is recycled
  // here once it settles.
  void recycle(DeviceRequest* request) noexcept;
  // An edge's copies, which each progress pass checks; it must outlive the engine.
  void add_batcher(CopyBatcher* batcher);
  // `batcher` has copies to enqueue at the end of this progress pass.
  void flush_at_end_of_pass(CopyBatcher* batcher);

 private:
  ucx::Worker::SideWork poll();

  ucx::Worker& worker_;
  int device_;
  std::vector<DeviceRequest*> in_flight_;
  std::vector<DeviceRequest*> outstanding_;  // acquired and not yet recycled
  std::vector<DeviceRequest*> free_;
  std::vector<CopyBatcher*> batchers_;
  std::vector<CopyBatcher*> to_flush_;
};

}  // namespace ringpipe::gpu
