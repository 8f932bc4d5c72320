// ringpipe: a Ring's counters (Ring::stats()) and their Prometheus text exposition.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/export.hpp>
#include <ringpipe/link_info.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringpipe {

// Errc values, for arrays indexed by code.
inline constexpr std::size_t kErrcCount = static_cast<std::size_t>(Errc::Internal) + 1;

// Fixed log2 buckets of operation latency (post to completion; a plain send is timed from the
// return of its post, so the clock read does not delay the message): bucket i counts operations
// that took at most 2^i ns and more than 2^(i-1) ns; the last one also counts every longer one.
inline constexpr std::size_t kLatencyBuckets = 32;

// One direction of one edge, since the Ring was created. Every message posted by the user
// counts; ringpipe's own messages (goodbyes, GPU mode's control messages) do not.
struct DirectionStats {
  std::uint64_t messages = 0;  // completed successfully
  std::uint64_t bytes = 0;     // moved by those
  // Posted and not yet settled: a success settles at completion, a failure once the caller
  // sees its error (wait, test) or drops its Request, a dropped unfinished receive at the drop.
  std::uint64_t in_flight = 0;
  // Operations that failed, by the code of the error they reported (index: Errc), including
  // posts refused at once (a closed or failed edge, a bad buffer).
  std::array<std::uint64_t, kErrcCount> failures{};
  // Latency of the completed messages (not bucket-cumulative; see kLatencyBuckets).
  std::array<std::uint64_t, kLatencyBuckets> latency_buckets{};
  std::uint64_t latency_sum_ns = 0;

  [[nodiscard]] std::uint64_t failed() const noexcept {
    std::uint64_t total = 0;
    for (const std::uint64_t count : failures) total += count;
    return total;
  }
};

// The last operation failure seen on an edge.
struct EdgeError {
  Errc code = Errc::Internal;
  std::string message;  // Error::message(): who, what and why
};

struct EdgeStats {
  std::string edge;  // "pred", "succ"; in GPU mode also "host_pred", "host_succ"
  int peer = 0;
  LinkInfo link;  // how the edge moves its data
  DirectionStats send;
  DirectionStats recv;
  std::optional<EdgeError> last_error;
};

struct RingStats {
  int rank = 0;
  int world_size = 0;
  double rendezvous_seconds = 0;  // how long joining the ring took (construction)
  // Heartbeats expected from the neighbours that did not come in time (one interval of slack;
  // a stall is many of them in a row).
  std::uint64_t liveness_beats_missed = 0;
  std::vector<EdgeStats> edges;  // pred, succ, then GPU mode's host edges
};

// The Prometheus text exposition format (version 0.0.4) of `stats`: counters named
// ringpipe_*_total, the latency histogram in seconds, labels rank, peer, edge, direction and
// (failures) cause. A serving stack returns it from its own /metrics handler.
RINGPIPE_API std::string to_prometheus(const RingStats& stats);

}  // namespace ringpipe
