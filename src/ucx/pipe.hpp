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
#include <string_view>

namespace ringpipe::ucx {

// UCX tags: all ranks share one tag space per worker, so a tag names the edge, the direction,
// the channel and the user's tag. Edge p joins rank p and rank (p+1) % N; "forward" is p -> p+1.
//   bit 63: ring control | bits 61..62: channel | bits 33..60: edge | bit 32: backward |
//   bits 0..31: tag
inline constexpr std::uint64_t kControlBit = std::uint64_t{1} << 63;
inline constexpr int kChannelShift = 61;
inline constexpr std::uint64_t kBackwardBit = std::uint64_t{1} << 32;
inline constexpr int kEdgeShift = 33;
inline constexpr std::uint64_t kFullMask = ~std::uint64_t{0};

// What a message on an edge carries: the user's bytes (host memory), or GPU mode's messages
// about device buffers, which travel over the same host link.
enum class Channel : std::uint64_t { Data = 0, GpuDescriptor = 1, GpuReply = 2, GpuSetup = 3 };

constexpr std::uint64_t data_tag(std::uint32_t edge, bool backward, Tag tag,
                                 Channel channel = Channel::Data) {
  return (static_cast<std::uint64_t>(channel) << kChannelShift) |
         (std::uint64_t{edge} << kEdgeShift) | (backward ? kBackwardBit : 0) | tag;
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

  // Throws the edge's failure, or Closed, restated for `operation`.
  void check_sendable(std::string_view operation, Tag tag, std::size_t bytes) const;

  // Posts a message on `channel` of this edge (host memory; GPU mode's own messages). The
  // request belongs to the caller, who releases it. Throws Error if the edge has failed.
  [[nodiscard]] UcxRequest* post_channel_send(Channel channel, Tag tag, const void* data,
                                              std::size_t bytes);
  [[nodiscard]] UcxRequest* post_channel_recv(Channel channel, Tag tag, void* data,
                                              std::size_t capacity);

  // Marks the edge failed (sticky) and fails its pending receives with `error`. The first
  // failure wins; later calls do nothing.
  void fail(const Error& error);
  [[nodiscard]] const std::optional<Error>& failure() const noexcept { return failure_; }
  // When fail() first ran (meaningful only once failure() is set).
  [[nodiscard]] detail::Clock::time_point failed_at() const noexcept { return failed_at_; }

 protected:
  [[nodiscard]] Request post_send(const void* data, std::size_t bytes, Tag tag,
                                  Stream stream) override;
  [[nodiscard]] Request post_recv(void* data, std::size_t capacity, Tag tag,
                                  Stream stream) override;

 private:
  void check_buffer(std::string_view operation, const std::string& edge, Tag tag, const void* data,
                    std::size_t bytes, Stream stream) const;

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
  detail::Clock::time_point failed_at_;
};

}  // namespace ringpipe::ucx
