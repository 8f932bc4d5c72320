// ringpipe Python: the objects a Python program holds: Ring, Edge and Request.
#include "ring_objects.hpp"

#include "stats_binding.hpp"
#include "wait.hpp"

#include <ringpipe/error.hpp>

#include <limits>
#include <utility>

namespace ringpipe::python {
namespace {

Tag to_tag(std::int64_t tag) {
  if (tag < 0 || tag > std::numeric_limits<Tag>::max()) {
    throw Error(Errc::InvalidArgument, "tag " + std::to_string(tag) + " is out of range 0.." +
                                           std::to_string(std::numeric_limits<Tag>::max()));
  }
  return static_cast<Tag>(tag);
}

}  // namespace

// Request

RequestObject::RequestObject(std::shared_ptr<RingHandle> handle, Request request, BufferArg buffer,
                             bool send)
    : handle_(std::move(handle)),
      request_(std::move(request)),
      buffer_(std::move(buffer)),
      send_(send) {}

RequestObject::~RequestObject() {
  if (handle_ != nullptr && !done_) abandon();
}

void RequestObject::finished() {
  done_ = true;
  nbytes_ = request_.bytes();
  request_ = Request();  // back to the transport's pool
  buffer_ = BufferArg();
}

void RequestObject::wait(const py::object& timeout) {
  if (done_) return;
  wait_interruptible(*handle_, request_, to_timeout(timeout));
  finished();
}

bool RequestObject::test() {
  if (done_) return true;
  RingLock lock(*handle_);
  if (!request_.test()) return false;
  finished();
  return true;
}

void RequestObject::abandon() noexcept {
  if (request_.empty()) return;
  RingLock lock(*handle_);
  bool complete = true;
  try {
    complete = request_.test();
  } catch (...) {
    // Failed: the transport is done with the buffer.
  }
  if (!complete && send_ && !handle_->closed()) {
    handle_->adopt(std::move(request_), std::move(buffer_));
    return;
  }
  py::gil_scoped_release release;
  request_ = Request();  // cancels an unfinished receive
}

std::string RequestObject::repr() const {
  return std::string("<ringpipe.Request ") + (send_ ? "send" : "recv") +
         (done_ ? " done, " + std::to_string(nbytes_) + " bytes>" : " pending>");
}

// Edge

EdgeObject::EdgeObject(std::shared_ptr<RingHandle> handle, EdgeKind kind)
    : handle_(std::move(handle)),
      kind_(kind),
      memory_(handle_->is_device_edge(kind) ? Memory::Cuda : Memory::Host) {
  RingLock lock(*handle_);
  peer_ = handle_->edge(kind).peer();
}

RequestObject EdgeObject::post(py::handle buffer, std::int64_t tag, bool send) {
  const Tag user_tag = to_tag(tag);
  BufferArg memory = BufferArg::from(buffer, send ? Access::Read : Access::Write, memory_);
  RingLock lock(*handle_);
  handle_->reap_adopted();
  PipeGroup& edge = handle_->edge(kind_);
  const Stream stream{memory.stream()};
  Request request = send ? edge.isend(memory.data(), memory.nbytes(), user_tag, stream)
                         : edge.irecv(memory.data(), memory.nbytes(), user_tag, stream);
  return RequestObject(handle_, std::move(request), std::move(memory), send);
}

RequestObject EdgeObject::isend(py::handle buffer, std::int64_t tag) {
  return post(buffer, tag, true);
}

RequestObject EdgeObject::irecv(py::handle buffer, std::int64_t tag) {
  return post(buffer, tag, false);
}

void EdgeObject::send(py::handle buffer, std::int64_t tag, const py::object& timeout) {
  RequestObject request = post(buffer, tag, true);
  request.wait(timeout);
}

std::size_t EdgeObject::recv(py::handle buffer, std::int64_t tag, const py::object& timeout) {
  RequestObject request = post(buffer, tag, false);
  request.wait(timeout);
  return request.nbytes();
}

std::string EdgeObject::describe() const {
  RingLock lock(*handle_);
  if (handle_->closed()) return "closed edge of rank " + std::to_string(rank());
  return handle_->edge(kind_).describe();
}

// Ring

RingObject::RingObject(const Options& options) {
  options.validate();
  {
    py::gil_scoped_release release;  // the rendezvous takes up to its timeout
    handle_ = std::make_shared<RingHandle>(options);
  }
  for (const EdgeKind kind :
       {EdgeKind::Pred, EdgeKind::Succ, EdgeKind::HostPred, EdgeKind::HostSucc}) {
    edges_[static_cast<std::size_t>(kind)] = py::cast(EdgeObject(handle_, kind));
  }
}

LinkInfo RingObject::link_info(const EdgeObject& edge) const {
  if (edge.handle() != handle_) {
    throw Error(Errc::InvalidArgument, "link_info: the edge belongs to another ring");
  }
  RingLock lock(*handle_);
  Ring& ring = handle_->ring();
  return ring.link_info(RingHandle::edge_of(ring, edge.kind()));
}

void RingObject::abort() {
  py::gil_scoped_release release;
  handle_->abort();
}

py::dict RingObject::stats() {
  RingStats stats;
  {
    py::gil_scoped_release release;
    stats = handle_->stats();
  }
  return stats_to_dict(stats);
}

std::string RingObject::prometheus() {
  py::gil_scoped_release release;
  return to_prometheus(handle_->stats());
}

std::string RingObject::repr() const {
  return "<ringpipe.Ring rank " + std::to_string(handle_->rank()) + " of " +
         std::to_string(handle_->world_size()) + ", " +
         std::string(to_string(handle_->options().comm_device)) + (closed() ? ", closed>" : ">");
}

}  // namespace ringpipe::python
