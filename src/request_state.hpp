// ringpipe: what a Request refers to; each transport implements it.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace ringpipe::detail {

// How long an unfinished send dropped by an exception's unwinding is given to be received
// before its link fails: unwinding must not hold a serving process for the operation timeout.
inline constexpr std::chrono::milliseconds kUnwindGrace{1000};

class RequestState {
 public:
  virtual ~RequestState() = default;

  // As Request::test / wait / wait_for / bytes.
  virtual bool test() = 0;
  virtual void wait(std::optional<std::chrono::milliseconds> timeout) = 0;
  virtual bool wait_for(std::chrono::milliseconds timeout) = 0;
  [[nodiscard]] virtual std::size_t bytes() const noexcept = 0;
  // Called when the Request is destroyed: makes sure the transport is done with the buffer,
  // then recycles the state. An unfinished send waits for the operation timeout, or for
  // kUnwindGrace when `unwinding` (an exception is destroying the Request). Never throws.
  virtual void release(bool unwinding) noexcept = 0;
};

}  // namespace ringpipe::detail
