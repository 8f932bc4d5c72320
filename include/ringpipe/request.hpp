// ringpipe: completion handle of one non-blocking send or receive.
#pragma once

#include <ringpipe/export.hpp>
#include <ringpipe/options.hpp>

#include <chrono>
#include <cstddef>
#include <optional>

namespace ringpipe {

class Request;

namespace detail {
class RequestState;
class RequestAccess;  // lets the library alone make Requests
}  // namespace detail

// The outcome of isend/irecv. Move-only; an empty Request (default-constructed or moved-from)
// is complete. Not thread-safe: use a request from the thread that uses its Ring.
//
// Buffer ownership: the buffer passed to isend/irecv belongs to the transport until test()
// returned true or wait() returned, or threw. Destroying an unfinished request cancels a
// receive, or waits for a send to be received (up to the ring's operation timeout, then fails
// the link; with an infinite timeout, until the neighbour receives it or is found dead), so the
// transport never touches the buffer after the destructor returns. While an exception unwinds,
// an unfinished send gets 1 s instead of the operation timeout: a failing caller is never held
// for minutes (the link fails, and the neighbour is told).
class RINGPIPE_API Request {
 public:
  Request() noexcept = default;
  Request(Request&& other) noexcept;
  Request& operator=(Request&& other) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  // Makes progress without blocking. True once complete; throws Error if the operation
  // failed (PeerFailed, Closed, Stalled, Truncated, ...).
  bool test();

  // Blocks until complete or until `timeout` (default: the ring's operation timeout; kInfinite:
  // none) passes.
  // Throws Error{Timeout} naming the operation, edge, tag and size; the receive is then
  // cancelled, or a timed-out send fails its link. Throws the operation's error otherwise.
  void wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Waits up to `timeout` and gives up without cancelling anything: true once complete (throws
  // the operation's error as test() does), false if still pending. For callers that wait in
  // slices, e.g. to serve signals in between.
  bool wait_for(std::chrono::milliseconds timeout);

  // Bytes sent, or bytes received (the message's size); meaningful once complete.
  [[nodiscard]] std::size_t bytes() const noexcept;

  [[nodiscard]] bool empty() const noexcept { return state_ == nullptr; }

 private:
  friend class detail::RequestAccess;
  explicit Request(detail::RequestState* state) noexcept : state_(state) {}
  void release() noexcept;

  detail::RequestState* state_ = nullptr;
};

}  // namespace ringpipe
