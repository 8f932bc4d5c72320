// ringpipe: the counters of one ring edge, written by the Ring's thread and read by any.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/stats.hpp>

#include "latency_clock.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>

namespace ringpipe::detail {

// The last failure of an edge: written only on failure, so a lock costs nothing per message.
class LastError {
 public:
  void record(const Error& error);
  [[nodiscard]] std::optional<EdgeError> get() const;

 private:
  mutable std::mutex mutex_;
  std::optional<EdgeError> error_;
};

// One direction of an edge. A single thread writes (the one using the Ring), so each counter is
// a relaxed load and store, no locked instruction; stats() reads them from any thread.
class DirectionCounters {
 public:
  DirectionCounters(LastError& last_error, double ns_per_tick)
      : last_error_(last_error), ns_per_tick_(ns_per_tick) {}

  void posted() noexcept { add(in_flight_, 1); }
  void completed(std::size_t bytes, std::uint64_t ticks) noexcept {
    const auto ns = static_cast<std::uint64_t>(static_cast<double>(ticks) * ns_per_tick_);
    add(messages_, 1);
    add(bytes_, bytes);
    add(latency_sum_ns_, ns);
    add(latency_buckets_[bucket_of(ns)], 1);
    add(in_flight_, ~std::uint64_t{0});  // minus one
  }
  // `was_posted`: the operation had been counted in flight (false if refused at the post).
  void failed(const Error& error, bool was_posted) noexcept;
  // Given up by the caller before it finished (a dropped receive): neither success nor failure.
  void dropped() noexcept { add(in_flight_, ~std::uint64_t{0}); }

  [[nodiscard]] DirectionStats snapshot() const noexcept;

  // Bucket i holds latencies in (2^(i-1), 2^i] ns; the last one everything above.
  [[nodiscard]] static std::size_t bucket_of(std::uint64_t ns) noexcept {
    const auto bucket = static_cast<std::size_t>(std::bit_width(ns > 0 ? ns - 1 : 0));
    return bucket < kLatencyBuckets ? bucket : kLatencyBuckets - 1;
  }

 private:
  using Counter = std::atomic<std::uint64_t>;
  static void add(Counter& counter, std::uint64_t n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  LastError& last_error_;
  double ns_per_tick_;
  Counter messages_{0};
  Counter bytes_{0};
  Counter in_flight_{0};
  Counter latency_sum_ns_{0};
  std::array<Counter, kErrcCount> failures_{};
  std::array<Counter, kLatencyBuckets> latency_buckets_{};
};

// Both directions of one edge and its last failure.
class EdgeCounters {
 public:
  EdgeCounters()
      : send(last_error, LatencyClock::ns_per_tick()),
        recv(last_error, LatencyClock::ns_per_tick()) {}
  EdgeCounters(const EdgeCounters&) = delete;
  EdgeCounters& operator=(const EdgeCounters&) = delete;

  LastError last_error;
  DirectionCounters send;
  DirectionCounters recv;
};

// What one operation owes its direction's counters: posted once, then exactly one of
// succeeded, failed or dropped (later calls do nothing). Unmetered operations (ringpipe's own
// messages) never start. `posted`: LatencyClock::now() when the operation was posted.
class OperationMeter {
 public:
  void start(DirectionCounters& counters, std::uint64_t posted) noexcept {
    counters_ = &counters;
    posted_ = posted;
    counters.posted();
  }
  void succeeded(std::size_t bytes) noexcept {
    if (counters_ == nullptr) return;
    counters_->completed(bytes, LatencyClock::now() - posted_);
    counters_ = nullptr;
  }
  void failed(const Error& error) noexcept {
    if (counters_ == nullptr) return;
    counters_->failed(error, /*was_posted=*/true);
    counters_ = nullptr;
  }
  void dropped() noexcept {
    if (counters_ == nullptr) return;
    counters_->dropped();
    counters_ = nullptr;
  }
  // The operation's post time, once known (sends are stamped after the post call).
  void restamp(std::uint64_t posted) noexcept { posted_ = posted; }
  // Forgets the operation without counting (a request reused for an unmetered message).
  void clear() noexcept { counters_ = nullptr; }
  [[nodiscard]] bool pending() const noexcept { return counters_ != nullptr; }

 private:
  DirectionCounters* counters_ = nullptr;
  std::uint64_t posted_ = 0;
};

}  // namespace ringpipe::detail
