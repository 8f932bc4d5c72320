// ringpipe: the clock that times each message for the latency histogram.
#include "latency_clock.hpp"

#include <thread>

namespace ringpipe::detail {
namespace {

// Long enough that the two clock reads' jitter (~0.1 us) is a 1e-4 error at most.
constexpr auto kCalibration = std::chrono::milliseconds(2);

double measure_ns_per_tick() {
#if defined(__x86_64__) || defined(__i386__)
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t first = LatencyClock::now();
  std::this_thread::sleep_for(kCalibration);
  const std::uint64_t last = LatencyClock::now();
  const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
  return last > first ? elapsed.count() / static_cast<double>(last - first) : 1.0;
#else
  return 1.0;
#endif
}

}  // namespace

double LatencyClock::ns_per_tick() {
  static const double value = measure_ns_per_tick();
  return value;
}

}  // namespace ringpipe::detail
