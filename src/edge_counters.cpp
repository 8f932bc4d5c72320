// ringpipe: the counters of one ring edge.
#include "edge_counters.hpp"

namespace ringpipe::detail {

void LastError::record(const Error& error) {
  EdgeError copy{error.code(), std::string(error.message())};
  const std::lock_guard lock(mutex_);
  error_ = std::move(copy);
}

std::optional<EdgeError> LastError::get() const {
  const std::lock_guard lock(mutex_);
  return error_;
}

void DirectionCounters::failed(const Error& error, bool was_posted) noexcept {
  add(failures_[static_cast<std::size_t>(error.code())], 1);
  if (was_posted) add(in_flight_, ~std::uint64_t{0});
  try {
    last_error_.record(error);
  } catch (...) {
    // Out of memory for the message: the count above still tells the cause.
  }
}

DirectionStats DirectionCounters::snapshot() const noexcept {
  const auto read = [](const Counter& counter) { return counter.load(std::memory_order_relaxed); };
  DirectionStats stats;
  stats.messages = read(messages_);
  stats.bytes = read(bytes_);
  stats.in_flight = read(in_flight_);
  stats.latency_sum_ns = read(latency_sum_ns_);
  for (std::size_t i = 0; i < kErrcCount; ++i) stats.failures[i] = read(failures_[i]);
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    stats.latency_buckets[i] = read(latency_buckets_[i]);
  }
  return stats;
}

}  // namespace ringpipe::detail
