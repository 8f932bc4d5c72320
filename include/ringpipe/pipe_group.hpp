// ringpipe: one edge of the ring, seen from one of its two ranks.
#pragma once

#include <ringpipe/export.hpp>
#include <ringpipe/request.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ringpipe {

// User tag of a message; messages match when edge, direction and tag agree.
using Tag = std::uint32_t;

// A CUDA stream (cudaStream_t) passed without CUDA's headers: Stream{my_stream}. The default,
// null, is CUDA's legacy default stream in GPU mode and the only value CPU mode accepts.
struct Stream {
  void* cuda_stream = nullptr;
};

// The edge between rank p and rank (p+1) % N. Rank p reaches it as ring.succ(), rank p+1 as
// ring.pred(). Both ranks may send and receive on it:
//
//   rank 0:  ring.succ().send(buf, n, /*tag=*/7);     rank 1:  ring.pred().recv(buf, n, 7);
//   rank 0:  ring.succ().recv(buf, n, 9);             rank 1:  ring.pred().send(buf, n, 9);
//
// Ordering: on one edge, in one direction, with one tag, messages arrive in the order they
// were sent. Different tags or directions are independent. This holds for every world size:
// with 2 ranks the edges 0->1 and 1->0 are distinct (rank 0's succ is not its pred), and with 1
// rank succ() and pred() are the two ends of one self-loop edge.
//
// Lifetime: owned by its Ring; not thread-safe (use a ring from one thread at a time).
// Errors are sticky: once an edge failed (peer died, closed, timed-out send), every pending and
// later operation on it throws the original cause.
class RINGPIPE_API PipeGroup {
 public:
  PipeGroup(const PipeGroup&) = delete;
  PipeGroup& operator=(const PipeGroup&) = delete;
  virtual ~PipeGroup() = default;

  // Starts sending `bytes` bytes from `data`; the buffer must stay valid and unchanged until
  // the request completes. Never blocks. Throws Error if the edge has already failed.
  //
  // Memory: host memory in CPU mode, CUDA device memory in GPU mode; the other kind is
  // Error{InvalidArgument}. In GPU mode the transfer starts after the work enqueued on `stream`
  // before this call (it never waits for later work), and a request completes once the data
  // has left (send) or landed (receive); work enqueued on `stream` after that sees it.
  [[nodiscard]] Request isend(const void* data, std::size_t bytes, Tag tag = 0,
                              Stream stream = {}) {
    return post_send(data, bytes, tag, stream);
  }

  // Starts receiving one message of at most `capacity` bytes into `data`. A larger message
  // fails the request with Error{Truncated} stating both sizes. Never blocks.
  [[nodiscard]] Request irecv(void* data, std::size_t capacity, Tag tag = 0, Stream stream = {}) {
    return post_recv(data, capacity, tag, stream);
  }

  // Blocking forms: post, then wait with `timeout` (default: the ring's operation timeout).
  void send(const void* data, std::size_t bytes, Tag tag = 0,
            std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  void send(const void* data, std::size_t bytes, Tag tag, Stream stream,
            std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Returns the size of the received message.
  std::size_t recv(void* data, std::size_t capacity, Tag tag = 0,
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  std::size_t recv(void* data, std::size_t capacity, Tag tag, Stream stream,
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // This rank and the rank at the other end of the edge (equal for a 1-rank ring).
  [[nodiscard]] virtual int rank() const noexcept = 0;
  [[nodiscard]] virtual int peer() const noexcept = 0;
  // Human-readable description of the edge, e.g. "rank 2 -> succ 3 (ucx: tcp, sysv, cma)".
  [[nodiscard]] virtual std::string describe() const = 0;

 protected:
  PipeGroup() = default;

  // What each transport implements; isend/irecv document the contract.
  [[nodiscard]] virtual Request post_send(const void* data, std::size_t bytes, Tag tag,
                                          Stream stream) = 0;
  [[nodiscard]] virtual Request post_recv(void* data, std::size_t capacity, Tag tag,
                                          Stream stream) = 0;
};

}  // namespace ringpipe
