// ringpipe: the clock that times each message for the latency histogram.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace ringpipe::detail {

// Two reads per message: steady_clock cost ~50 ns a read in a KVM guest (kvm-clock), the TSC
// ~15 ns, so x86 reads the TSC (invariant on the hosts ringpipe serves from) and converts
// ticks once per message; other architectures read steady_clock in nanoseconds.
class LatencyClock {
 public:
  [[nodiscard]] static std::uint64_t now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
#endif
  }

  // Nanoseconds per tick, measured against steady_clock the first time (~2 ms, once per
  // process), so call it while joining a ring rather than per message.
  [[nodiscard]] static double ns_per_tick();

  // The time from `ticks` (an earlier now()) to now.
  [[nodiscard]] static std::chrono::nanoseconds since(std::uint64_t ticks) {
    return std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(now() - ticks) * ns_per_tick()));
  }
};

}  // namespace ringpipe::detail
