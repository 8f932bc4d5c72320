// ringpipe Python: the shared Ring, its lock, and the sends nobody waits for any more.
#include "ring_handle.hpp"

#include <ringpipe/error.hpp>

#include <algorithm>
#include <utility>

namespace ringpipe::python {

RingHandle::RingHandle(const Options& options)
    : options_(options), ring_(std::make_unique<Ring>(options)) {}

RingHandle::~RingHandle() {
  // Reached when the last Python object of the ring goes without close(): close as close()
  // would. The GIL is held here (an object's deallocation).
  close();
}

Ring& RingHandle::ring() {
  if (ring_ == nullptr) {
    throw Error(Errc::Closed, "rank " + std::to_string(options_.rank) +
                                  ": the ring was closed (Ring.close() or leaving its with-block)");
  }
  return *ring_;
}

PipeGroup& RingHandle::edge_of(Ring& ring, EdgeKind kind) {
  switch (kind) {
    case EdgeKind::Pred:
      return ring.pred();
    case EdgeKind::Succ:
      return ring.succ();
    case EdgeKind::HostPred:
      return ring.host_pred();
    case EdgeKind::HostSucc:
      return ring.host_succ();
  }
  throw Error(Errc::Internal, "unknown edge kind");
}

bool RingHandle::is_device_edge(EdgeKind kind) const noexcept {
  return options_.comm_device == CommDevice::Gpu &&
         (kind == EdgeKind::Pred || kind == EdgeKind::Succ);
}

void RingHandle::adopt(Request request, BufferArg buffer) {
  adopted_.push_back(Adopted{std::move(request), std::move(buffer)});
}

void RingHandle::reap_adopted() {
  std::erase_if(adopted_, [](Adopted& send) {
    try {
      return send.request.test();
    } catch (const Error&) {
      return true;  // its edge failed: later operations on the edge report it
    }
  });
}

void RingHandle::close() {
  std::vector<Adopted> adopted;
  {
    RingLock lock(*this);
    if (ring_ == nullptr) return;
    adopted = std::move(adopted_);
    // Both can block: an adopted send waits for its receiver (up to the operation timeout),
    // and the close protocol for the neighbours. The lock stays held: another thread may be
    // between two slices of a wait on this ring.
    py::gil_scoped_release release;
    for (Adopted& send : adopted) send.request = Request();
    std::unique_ptr<Ring> closing;
    {
      std::lock_guard lifetime(lifetime_mutex_);
      closing = std::move(ring_);
    }
    closing.reset();
  }
  adopted.clear();  // the buffers, with the GIL
}

void RingHandle::abort() {
  std::lock_guard lifetime(lifetime_mutex_);
  if (ring_ != nullptr) ring_->abort();
}

RingStats RingHandle::stats() {
  std::lock_guard lifetime(lifetime_mutex_);
  return ring().stats();
}

}  // namespace ringpipe::python
