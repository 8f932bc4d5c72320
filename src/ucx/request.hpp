// ringpipe: one in-flight UCX tag send or receive, and the pool that recycles them.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "deadline.hpp"
#include "edge_counters.hpp"
#include "request_state.hpp"
#include "single_copy/descriptor.hpp"
#include "single_copy/peer_reader.hpp"

#include <ucp/api/ucp.h>

#include <cstddef>
#include <optional>
#include <vector>

namespace ringpipe::ucx {

class UcxPipe;
class SingleCopy;
class RequestPool;

class UcxRequest final : public detail::RequestState {
 public:
  enum class Kind { Send, Recv };

  explicit UcxRequest(RequestPool& pool) : pool_(&pool) {}

  // Posts the operation; the request may complete at once. `counters`: where its outcome
  // counts (nullptr for ringpipe's own messages).
  void start_send(UcxPipe& pipe, std::uint64_t ucx_tag, const void* data, std::size_t bytes,
                  Tag tag, detail::DirectionCounters* counters);
  void start_recv(UcxPipe& pipe, std::uint64_t ucx_tag, void* data, std::size_t capacity, Tag tag,
                  detail::DirectionCounters* counters);
  // Posts a single-copy send of `bytes`: `descriptor` goes out under the message's tag, and the
  // request completes when the receiver acknowledges its copy.
  void start_single_copy_send(UcxPipe& pipe, std::uint64_t ucx_tag,
                              const single_copy::Descriptor& descriptor, std::size_t bytes, Tag tag,
                              detail::DirectionCounters* counters);
  // A receive whose descriptor arrived: copies the data it names from the sender (unless the
  // receive ended meanwhile), then tells the sender. Called by the Ring's SingleCopy queue.
  void copy_from_peer(single_copy::PeerReader& reader) noexcept;

  bool test() override;
  void wait(std::optional<std::chrono::milliseconds> timeout) override;
  bool wait_for(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::size_t bytes() const noexcept override { return bytes_; }
  void release() noexcept override;

  [[nodiscard]] bool done() const noexcept { return done_; }
  // Once done: nullopt on success, else the error test() would throw. Never progresses.
  [[nodiscard]] std::optional<Error> outcome();
  [[nodiscard]] const UcxPipe* pipe() const noexcept { return pipe_; }
  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  // A send that went as a descriptor, or a receive whose descriptor came.
  [[nodiscard]] bool is_single_copy() const noexcept { return single_copy_; }

  // The pipe failed: cancel a pending receive and let it end with `error`.
  void cancel_with(const Error& error) noexcept;
  // The Ring is going away: finish with the transport, then live on detached until released.
  void detach() noexcept;

 private:
  friend class RequestPool;
  friend class SingleCopy;

  static void on_send(void* request, ucs_status_t status, void* user_data);
  static void on_recv(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                      void* user_data);
  static void on_descriptor_sent(void* request, ucs_status_t status, void* user_data);
  static void on_ack(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                     void* user_data);
  // Whether the message of a descriptor's size that UCX just wrote is a descriptor from this
  // edge's neighbour (its magic and nonce), rather than a user's message.
  [[nodiscard]] bool holds_descriptor() const noexcept;
  // Queues the descriptor that arrived for its copy.
  void descriptor_arrived() noexcept;
  // A receive smaller than a descriptor landed in the staging buffer: hand it to the user.
  void unstage(ucs_status_t& status, std::size_t length) noexcept;
  // A single-copy send ends once the ack came and UCX is done with the descriptor.
  void finish_single_copy_send() noexcept;
  // Leaves the copy queue, telling the sender the data was not taken.
  void leave_copy_queue() noexcept;
  [[nodiscard]] bool transport_owns() const noexcept {
    return ucx_request_ != nullptr || descriptor_send_ != nullptr;
  }
  void complete(ucs_status_t status, std::size_t bytes) noexcept;
  // Resets the state for a new operation; returns the UCX parameters common to both kinds.
  // `stamp`: read the post time now (false: the caller sets it, see start_send).
  ucp_request_param_t begin(UcxPipe& pipe, Kind kind, std::size_t size, Tag tag,
                            detail::DirectionCounters* counters, bool stamp = true);
  // Progresses until the transport is done with the buffer (cancelling a receive first).
  void finish_with_transport(const detail::Deadline& deadline) noexcept;
  // A receive that UCX had matched when its link failed cannot be cancelled, and its sender
  // has died or closed, so it would never finish. After a grace for what is still in the
  // transport's queues, it is given up: it fails with the link's error while UCX keeps the
  // operation (its callback frees it, should it ever come). True if it was given up.
  bool abandon_if_stuck() noexcept;
  // What a wait polls for: done, or given up on a failed edge. Inline in the .cpp (it runs
  // twice per poll), reading the edge's failure before calling abandon_if_stuck().
  bool settled() noexcept;
  void after_post(ucs_status_ptr_t result);
  // Counts the failure, once, then throws it.
  [[noreturn]] void throw_failure();
  // The error throw_failure() throws.
  [[nodiscard]] Error failure() const;
  // Counts how an unobserved operation ended as its Request goes (`was_done`: before release).
  void account_at_release(bool was_done) noexcept;
  // `cause` (an edge's failure) restated for this operation.
  [[nodiscard]] Error in_context(const Error& cause) const;
  [[nodiscard]] std::string describe_operation() const;

  RequestPool* pool_;
  UcxPipe* pipe_ = nullptr;  // nullptr once detached
  Kind kind_ = Kind::Send;
  void* ucx_request_ = nullptr;  // set while UCX owns an in-flight request
  bool done_ = false;
  bool posting_ = false;   // inside ucp_tag_recv_nbx, whose callback may run before it returns
  bool released_ = false;  // its Request is gone while UCX still owns the operation
  ucs_status_t status_ = UCS_OK;
  std::size_t size_ = 0;   // bytes to send, or receive capacity
  std::size_t bytes_ = 0;  // bytes transferred
  Tag tag_ = 0;
  // When it was posted, in LatencyClock ticks: the one clock read of a post, which also times
  // the latency (a steady_clock read costs three times as much in a VM).
  std::uint64_t posted_ = 0;
  ucp_tag_recv_info_t recv_info_{};
  std::optional<Error> error_;          // a failure decided by ringpipe rather than by UCX
  std::optional<Error> cancel_reason_;  // why ringpipe cancelled it, if it did
  detail::OperationMeter meter_;

  // Single copy. A send: the descriptor sent, UCX's request for it while in flight, and the
  // ack (UCX's request for which is ucx_request_). A receive: the descriptor that arrived, the
  // user's buffer, and, for a receive smaller than a descriptor, where UCX wrote instead.
  bool single_copy_ = false;
  bool callback_ran_ = false;  // UCX finished the posted operation inside the post
  void* descriptor_send_ = nullptr;
  bool acked_ = false;
  ucs_status_t ack_status_ = UCS_OK;
  single_copy::Outcome ack_outcome_ = single_copy::Outcome::Copied;
  std::uint8_t ack_byte_ = 0;  // where the ack's outcome lands
  single_copy::Descriptor descriptor_;
  void* user_buffer_ = nullptr;
  bool staged_ = false;
  alignas(8) std::byte staging_[sizeof(single_copy::Descriptor)] = {};
  SingleCopy* copy_queue_ = nullptr;  // set while queued for its copy
  UcxRequest* next_copy_ = nullptr;

  UcxRequest* prev_ = nullptr;  // links in the pool's in-use list
  UcxRequest* next_ = nullptr;
};

// Hands out request states without allocating once warm, and tracks those in use so a failing
// pipe or a closing Ring can reach them.
class RequestPool {
 public:
  RequestPool() = default;
  RequestPool(const RequestPool&) = delete;
  RequestPool& operator=(const RequestPool&) = delete;
  ~RequestPool();

  UcxRequest* acquire();
  void recycle(UcxRequest* request) noexcept;
  // Drops a request from the in-use list without reusing it (UCX still owns its operation).
  void forget(UcxRequest* request) noexcept;

  // Calls f(request) for every request in use (f may not acquire or recycle).
  template <typename F>
  void for_each_in_use(F&& f) {
    for (UcxRequest* request = in_use_; request != nullptr; request = request->next_) f(*request);
  }
  // Detaches every request in use from the Ring (see UcxRequest::detach).
  void detach_all() noexcept;

 private:
  std::vector<UcxRequest*> free_;
  UcxRequest* in_use_ = nullptr;
};

}  // namespace ringpipe::ucx
