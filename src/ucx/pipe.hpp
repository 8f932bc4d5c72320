// ringpipe: a ring edge over a UCX endpoint (host memory).
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "ucx/endpoint.hpp"
#include "ucx/request.hpp"
#include "ucx/worker.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ringpipe::ucx {

// UCX tags: all ranks share one tag space per worker, so a tag names the edge, the direction
// and the user's tag. Edge p joins rank p and rank (p+1) % N; "forward" is p -> p+1.
//   bit 63: ringpipe control message | bits 33..62: edge | bit 32: backward | bits 0..31: tag
inline constexpr std::uint64_t kControlBit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kBackwardBit = std::uint64_t{1} << 32;
inline constexpr int kEdgeShift = 33;
inline constexpr std::uint64_t kFullMask = ~std::uint64_t{0};

constexpr std::uint64_t data_tag(std::uint32_t edge, bool backward, Tag tag) {
  return (std::uint64_t{edge} << kEdgeShift) | (backward ? kBackwardBit : 0) | tag;
}
// A rank's goodbye to a neighbour, sent when its Ring closes.
constexpr std::uint64_t goodbye_tag(int from_rank) {
  return kControlBit | static_cast<std::uint32_t>(from_rank);
}

class UcxPipe final : public PipeGroup {
 public:
  enum class Side { Pred, Succ };

  UcxPipe(Worker& worker, Endpoint& endpoint, RequestPool& pool, Side side, int rank,
          int world_size, std::chrono::milliseconds op_timeout);

  [[nodiscard]] Request isend(const void* data, std::size_t bytes, Tag tag = 0) override;
  [[nodiscard]] Request irecv(void* data, std::size_t capacity, Tag tag = 0) override;
  [[nodiscard]] int rank() const noexcept override { return rank_; }
  [[nodiscard]] int peer() const noexcept override { return peer_; }
  [[nodiscard]] std::string describe() const override;

  // "rank 2 -> succ 3" / "rank 3 <- pred 2", for messages.
  [[nodiscard]] const std::string& name(bool sending) const noexcept {
    return sending ? send_name_ : recv_name_;
  }
  [[nodiscard]] Worker& worker() noexcept { return worker_; }
  [[nodiscard]] Endpoint& endpoint() noexcept { return endpoint_; }
  [[nodiscard]] std::chrono::milliseconds op_timeout() const noexcept { return op_timeout_; }

  // Marks the edge failed (sticky) and fails its pending receives with `error`. The first
  // failure wins; later calls do nothing.
  void fail(const Error& error);
  [[nodiscard]] const std::optional<Error>& failure() const noexcept { return failure_; }

 private:
  Worker& worker_;
  Endpoint& endpoint_;
  RequestPool& pool_;
  int rank_;
  int peer_;
  std::uint64_t send_tag_base_;
  std::uint64_t recv_tag_base_;
  std::chrono::milliseconds op_timeout_;
  std::string send_name_;
  std::string recv_name_;
  std::optional<Error> failure_;
};

}  // namespace ringpipe::ucx
