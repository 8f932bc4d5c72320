// ringpipe Python: the objects a Python program holds: Ring, Edge and Request.
#pragma once

#include "buffer.hpp"
#include "ring_handle.hpp"

#include <ringpipe/options.hpp>
#include <ringpipe/pipe_group.hpp>
#include <ringpipe/request.hpp>
#include <ringpipe/ring.hpp>

#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace ringpipe::python {

namespace py = pybind11;

// One send or receive. Holds its buffer object until it completes; dropped unfinished, a
// receive is cancelled and a send kept by the ring until it completes (its buffer with it).
class RequestObject {
 public:
  RequestObject(std::shared_ptr<RingHandle> handle, Request request, BufferArg buffer, bool send);
  RequestObject(RequestObject&&) noexcept = default;
  RequestObject& operator=(RequestObject&&) noexcept = delete;
  ~RequestObject();

  void wait(const py::object& timeout);
  bool test();
  [[nodiscard]] std::size_t nbytes() const noexcept { return nbytes_; }
  [[nodiscard]] bool is_send() const noexcept { return send_; }
  [[nodiscard]] std::string repr() const;

 private:
  // Dropped unfinished: cancels a receive, hands a send to the ring.
  void abandon() noexcept;
  void finished();

  std::shared_ptr<RingHandle> handle_;
  Request request_;
  BufferArg buffer_;
  bool send_;
  bool done_ = false;
  std::size_t nbytes_ = 0;
};

// One end of a ring edge.
class EdgeObject {
 public:
  EdgeObject(std::shared_ptr<RingHandle> handle, EdgeKind kind);

  RequestObject isend(py::handle buffer, std::int64_t tag);
  RequestObject irecv(py::handle buffer, std::int64_t tag);
  void send(py::handle buffer, std::int64_t tag, const py::object& timeout);
  std::size_t recv(py::handle buffer, std::int64_t tag, const py::object& timeout);

  [[nodiscard]] int rank() const noexcept { return handle_->rank(); }
  [[nodiscard]] int peer() const noexcept { return peer_; }
  [[nodiscard]] EdgeKind kind() const noexcept { return kind_; }
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] const std::shared_ptr<RingHandle>& handle() const noexcept { return handle_; }

 private:
  RequestObject post(py::handle buffer, std::int64_t tag, bool send);

  std::shared_ptr<RingHandle> handle_;
  EdgeKind kind_;
  Memory memory_;
  int peer_;
};

// A ring (ringpipe::Ring) and its four edges, made once.
class RingObject {
 public:
  explicit RingObject(const Options& options);

  [[nodiscard]] const py::object& edge(EdgeKind kind) const {
    return edges_[static_cast<std::size_t>(kind)];
  }
  [[nodiscard]] LinkInfo link_info(const EdgeObject& edge) const;
  [[nodiscard]] CommDevice comm_device() const noexcept { return handle_->options().comm_device; }
  [[nodiscard]] const RingHandle& handle() const noexcept { return *handle_; }
  void abort();
  [[nodiscard]] py::dict stats();
  [[nodiscard]] std::string prometheus();
  void close() { handle_->close(); }
  [[nodiscard]] bool closed() const noexcept { return handle_->closed(); }
  [[nodiscard]] std::string repr() const;

 private:
  std::shared_ptr<RingHandle> handle_;
  std::array<py::object, 4> edges_;
};

}  // namespace ringpipe::python
