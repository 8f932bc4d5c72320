// ringpipe: a point in time by which a blocking operation must finish.
#pragma once

#include <ringpipe/request.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace ringpipe::detail {

using Clock = std::chrono::steady_clock;

// Converts a timeout once, at the start of an operation, so that every wait inside it draws on
// the same budget however many syscalls it takes. kInfinite never expires.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds timeout)
      : start_(Clock::now()),
        // Saturates: a timeout too large for the clock counts as infinite.
        infinite_(timeout == kInfinite ||
                  timeout > std::chrono::duration_cast<std::chrono::milliseconds>(
                                Clock::time_point::max() - start_)),
        at_(infinite_ ? Clock::time_point::max() : start_ + timeout) {}

  [[nodiscard]] bool expired() const { return !infinite_ && Clock::now() >= at_; }

  // Milliseconds left, clamped to [0, cap_ms]; a value for poll().
  [[nodiscard]] int remaining_ms(int cap_ms = 1 << 30) const {
    if (infinite_) return cap_ms;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(at_ - Clock::now()).count();
    if (left <= 0) return 0;
    return left < cap_ms ? static_cast<int>(left) : cap_ms;
  }

  [[nodiscard]] double elapsed_s() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

  [[nodiscard]] Clock::time_point at() const { return at_; }

  // The whole time this deadline gave (Clock::duration::max() if infinite).
  [[nodiscard]] Clock::duration budget() const {
    return infinite_ ? Clock::duration::max() : at_ - start_;
  }

 private:
  Clock::time_point start_;
  bool infinite_;
  Clock::time_point at_;
};

// "2.00 s", for messages.
inline std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

}  // namespace ringpipe::detail
