// ringpipe: GPU mode's requests in flight.
#include "gpu/engine.hpp"

#include "gpu/copy_batcher.hpp"
#include "gpu/device_request.hpp"
#include "gpu/device_scope.hpp"

#include <algorithm>

namespace ringpipe::gpu {

Engine::Engine(ucx::Worker& worker, int device) : worker_(worker), device_(device) {
  worker_.set_side_work([this] { return poll(); });
}

Engine::~Engine() {
  worker_.set_side_work(nullptr);
  for (DeviceRequest* request : outstanding_) {
    const bool released = request->released();  // still in flight, and nobody holds it
    request->detach();
    if (released) delete request;
  }
  for (DeviceRequest* request : free_) delete request;
}

DeviceRequest* Engine::acquire() {
  DeviceRequest* request;
  if (free_.empty()) {
    request = new DeviceRequest(*this);
  } else {
    request = free_.back();
    free_.pop_back();
  }
  outstanding_.push_back(request);
  return request;
}

void Engine::track(DeviceRequest* request) { in_flight_.push_back(request); }

void Engine::add_batcher(CopyBatcher* batcher) { batchers_.push_back(batcher); }

void Engine::flush_at_end_of_pass(CopyBatcher* batcher) {
  if (std::find(to_flush_.begin(), to_flush_.end(), batcher) == to_flush_.end()) {
    to_flush_.push_back(batcher);
  }
}

void Engine::recycle(DeviceRequest* request) noexcept {
  std::erase(in_flight_, request);
  std::erase(outstanding_, request);
  request->reset();
  try {
    free_.push_back(request);
  } catch (...) {
    delete request;
  }
}

ucx::Worker::SideWork Engine::poll() {
  ucx::Worker::SideWork work;
  if (in_flight_.empty()) return work;
  const DeviceScope scope(device_);
  // Copies that ended, found with one event query per edge and batch.
  for (CopyBatcher* batcher : batchers_) batcher->reap();
  for (std::size_t i = 0; i < in_flight_.size();) {
    DeviceRequest* request = in_flight_[i];
    work.did_work = request->advance() || work.did_work;
    if (!request->settled()) {
      work.pending = work.pending || request->copying();
      ++i;
      continue;
    }
    in_flight_[i] = in_flight_.back();
    in_flight_.pop_back();
    if (request->released()) recycle(request);
  }
  // The copies this pass matched, one batch per edge.
  for (CopyBatcher* batcher : to_flush_) batcher->flush();
  to_flush_.clear();
  return work;
}

}  // namespace ringpipe::gpu
