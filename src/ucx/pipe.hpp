// ringpipe: a ring edge over a UCX endpoint (host memory).
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "edge_counters.hpp"
#include "ucx/endpoint.hpp"
#include "ucx/request.hpp"
#include "ucx/single_copy.hpp"
#include "ucx/tag_layout.hpp"
#include "ucx/worker.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace ringpipe::ucx {

class UcxPipe final : public PipeGroup {
 public:
  enum class Side { Pred, Succ };

  UcxPipe(Worker& worker, Endpoint& endpoint, RequestPool& pool, SingleCopy& single_copy, Side side,
          int rank, int world_size, std::chrono::milliseconds op_timeout);

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
  [[nodiscard]] SingleCopy& single_copy() noexcept { return single_copy_; }

  // How single copies move on this edge, as its probe found (none until then).
  void set_copy_paths(EdgeCopyPaths paths);
  [[nodiscard]] const EdgeCopyPaths& copy_paths() const noexcept { return copy_paths_; }
  // The smallest user message sent as a descriptor on this edge (SIZE_MAX: none).
  [[nodiscard]] std::size_t single_copy_from() const noexcept { return single_copy_from_; }
  // Tells the neighbour how the receive of its single-copy send `token` ended.
  void send_ack(std::uint32_t token, single_copy::Outcome outcome) noexcept;

  // Throws the edge's failure, or Closed, restated for `operation`.
  void check_sendable(std::string_view operation, Tag tag, std::size_t bytes) const;

  // Posts a message on control `channel` of this edge (host memory; the messages of a layer
  // above, e.g. GPU mode's). The request belongs to the caller, who releases it. A send throws
  // Error if the edge has failed; a receive then fails with the edge's error.
  [[nodiscard]] UcxRequest* post_control_send(ControlChannel channel, Tag tag, const void* data,
                                              std::size_t bytes);
  [[nodiscard]] UcxRequest* post_control_recv(ControlChannel channel, Tag tag, void* data,
                                              std::size_t capacity);

  // Marks the edge failed (sticky) and fails its pending receives with `error`. The first
  // failure wins; later calls do nothing.
  void fail(const Error& error);
  [[nodiscard]] const std::optional<Error>& failure() const noexcept { return failure_; }
  // When fail() first ran (meaningful only once failure() is set).
  [[nodiscard]] detail::Clock::time_point failed_at() const noexcept { return failed_at_; }

  // The user's messages on this edge (control channels do not count); readable from any thread.
  [[nodiscard]] const detail::EdgeCounters& counters() const noexcept { return counters_; }

 protected:
  [[nodiscard]] Request post_send(const void* data, std::size_t bytes, Tag tag,
                                  Stream stream) override;
  [[nodiscard]] Request post_recv(void* data, std::size_t capacity, Tag tag,
                                  Stream stream) override;

 private:
  void check_buffer(std::string_view operation, const std::string& edge, Tag tag, const void* data,
                    std::size_t bytes, Stream stream) const;
  // Post on channel number `channel` (kDataChannel or a ControlChannel's number).
  [[nodiscard]] UcxRequest* send_on(std::uint64_t channel, Tag tag, const void* data,
                                    std::size_t bytes, detail::DirectionCounters* counters);
  [[nodiscard]] UcxRequest* recv_on(std::uint64_t channel, Tag tag, void* data,
                                    std::size_t capacity, detail::DirectionCounters* counters);

  Worker& worker_;
  Endpoint& endpoint_;
  RequestPool& pool_;
  SingleCopy& single_copy_;
  EdgeCopyPaths copy_paths_;
  std::size_t single_copy_from_ = std::numeric_limits<std::size_t>::max();
  int rank_;
  int peer_;
  std::uint64_t send_tag_base_;
  std::uint64_t recv_tag_base_;
  std::chrono::milliseconds op_timeout_;
  std::string send_name_;
  std::string recv_name_;
  std::optional<Error> failure_;
  detail::Clock::time_point failed_at_;
  detail::EdgeCounters counters_;
};

}  // namespace ringpipe::ucx
