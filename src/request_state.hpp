// ringpipe: what a Request refers to; each transport implements it.
#pragma once

#include <ringpipe/request.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>

namespace ringpipe::detail {

// How long an unfinished send dropped by an exception's unwinding is given to be received
// before its link fails: unwinding must not hold a serving process for the operation timeout.
inline constexpr std::chrono::milliseconds kUnwindGrace{1000};

// How long a dropped unfinished send waits to be received: the operation timeout (a busy
// neighbour is normal), or kUnwindGrace while an exception unwinds (the caller is leaving).
inline std::chrono::milliseconds dropped_send_grace(std::chrono::milliseconds op_timeout) {
  return std::uncaught_exceptions() > 0 ? std::min(kUnwindGrace, op_timeout) : op_timeout;
}

class RequestState {
 public:
  virtual ~RequestState() = default;

  // As Request::test / wait / wait_for / bytes.
  virtual bool test() = 0;
  virtual void wait(std::optional<std::chrono::milliseconds> timeout) = 0;
  virtual bool wait_for(std::chrono::milliseconds timeout) = 0;
  [[nodiscard]] virtual std::size_t bytes() const noexcept = 0;
  // Called when the Request is destroyed: makes sure the transport is done with the buffer,
  // then recycles the state (an unfinished send waits dropped_send_grace()). Never throws.
  virtual void release() noexcept = 0;
};

// The one way a Request is made: around a transport's state.
class RequestAccess {
 public:
  [[nodiscard]] static Request make(RequestState* state) noexcept { return Request(state); }
};

[[nodiscard]] inline Request make_request(RequestState* state) noexcept {
  return RequestAccess::make(state);
}

}  // namespace ringpipe::detail
