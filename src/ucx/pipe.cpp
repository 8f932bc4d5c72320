// ringpipe: a ring edge over a UCX endpoint (host memory).
#include "ucx/pipe.hpp"

#include "memory_kind.hpp"

namespace ringpipe::ucx {

UcxPipe::UcxPipe(Worker& worker, Endpoint& endpoint, RequestPool& pool, SingleCopy& single_copy,
                 Side side, int rank, int world_size, std::chrono::milliseconds op_timeout)
    : worker_(worker),
      endpoint_(endpoint),
      pool_(pool),
      single_copy_(single_copy),
      rank_(rank),
      peer_(side == Side::Succ ? (rank + 1) % world_size : (rank - 1 + world_size) % world_size),
      op_timeout_(op_timeout) {
  // The succ edge is edge `rank`, which this rank sends on forward; the pred edge is edge
  // `peer`, on which this rank receives forward messages.
  const bool succ = side == Side::Succ;
  const auto edge = static_cast<std::uint32_t>(succ ? rank : peer_);
  send_tag_base_ = data_tag(edge, /*backward=*/!succ, 0);
  recv_tag_base_ = data_tag(edge, /*backward=*/succ, 0);
  const std::string self = "rank " + std::to_string(rank);
  const std::string other = std::string(succ ? "succ " : "pred ") + std::to_string(peer_);
  send_name_ = self + " -> " + other;
  recv_name_ = self + " <- " + other;
}

void UcxPipe::check_sendable(std::string_view operation, Tag tag, std::size_t bytes) const {
  if (!failure_ && endpoint_.get() != nullptr) return;  // the per-message path: no strings
  const std::string what = std::string(operation) + " on " + send_name_ + " tag " +
                           std::to_string(tag) + " size " + std::to_string(bytes);
  if (failure_) throw Error(failure_->code(), what + ": " + std::string(failure_->message()));
  throw Error(Errc::Closed, what + ": the link is closed");
}

// CPU mode moves host memory only; a CUDA pointer or stream here is a caller's mistake that
// would otherwise crash inside the transport.
void UcxPipe::check_buffer(std::string_view operation, const std::string& edge, Tag tag,
                           const void* data, std::size_t bytes, Stream stream) const {
  const auto fail = [&](const std::string& why) {
    throw Error(Errc::InvalidArgument, std::string(operation) + " on " + edge + " tag " +
                                           std::to_string(tag) + ": " + why);
  };
  if (data == nullptr && bytes != 0) fail("null buffer of " + std::to_string(bytes) + " bytes");
  if (stream.cuda_stream != nullptr) {
    fail("a CUDA stream was given to a CPU-mode ring (use comm_device gpu for CUDA memory)");
  }
  if (bytes != 0 && memory_kind_of(data) == MemoryKind::CudaDevice) {
    fail("the buffer is CUDA device memory, but this ring is in CPU mode (host memory only)");
  }
}

Request UcxPipe::post_send(const void* data, std::size_t bytes, Tag tag, Stream stream) {
  worker_.take_queued_events();
  try {
    check_sendable("isend", tag, bytes);
    check_buffer("isend", send_name_, tag, data, bytes, stream);
  } catch (const Error& error) {
    counters_.send.failed(error, /*was_posted=*/false);
    throw;
  }
  return detail::make_request(send_on(kDataChannel, tag, data, bytes, &counters_.send));
}

Request UcxPipe::post_recv(void* data, std::size_t capacity, Tag tag, Stream stream) {
  try {
    check_buffer("irecv", recv_name_, tag, data, capacity, stream);
  } catch (const Error& error) {
    counters_.recv.failed(error, /*was_posted=*/false);
    throw;
  }
  return detail::make_request(recv_on(kDataChannel, tag, data, capacity, &counters_.recv));
}

UcxRequest* UcxPipe::post_control_send(ControlChannel channel, Tag tag, const void* data,
                                       std::size_t bytes) {
  worker_.take_queued_events();
  check_sendable("isend", tag, bytes);
  return send_on(channel.number(), tag, data, bytes, nullptr);
}

UcxRequest* UcxPipe::post_control_recv(ControlChannel channel, Tag tag, void* data,
                                       std::size_t capacity) {
  return recv_on(channel.number(), tag, data, capacity, nullptr);
}

UcxRequest* UcxPipe::send_on(std::uint64_t channel, Tag tag, const void* data, std::size_t bytes,
                             detail::DirectionCounters* counters) {
  UcxRequest* request = pool_.acquire();
  const std::uint64_t ucx_tag = send_tag_base_ | channel_bits(channel) | tag;
  if (bytes >= single_copy_from_ && channel == kDataChannel) {
    single_copy::Descriptor descriptor;
    if (single_copy_.plan(copy_paths_, data, bytes, descriptor)) {
      request->start_single_copy_send(*this, ucx_tag, descriptor, bytes, tag, counters);
      return request;
    }
  }
  request->start_send(*this, ucx_tag, data, bytes, tag, counters);
  return request;
}

void UcxPipe::set_copy_paths(EdgeCopyPaths paths) {
  copy_paths_ = std::move(paths);
  single_copy_from_ = single_copy_.threshold(copy_paths_);
}

void UcxPipe::send_ack(std::uint32_t token, single_copy::Outcome outcome) noexcept {
  if (failure_ || endpoint_.get() == nullptr) return;  // the sender hears of the failure instead
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK;
  param.cb.send = [](void* request, ucs_status_t /*status*/, void* /*user_data*/) {
    ucp_request_free(request);
  };
  // The byte sent must outlive the send: one constant per outcome.
  static constexpr std::uint8_t kOutcomeBytes[] = {0, 1, 2, 3};
  const ucs_status_ptr_t sent =
      ucp_tag_send_nbx(endpoint_.get(), &kOutcomeBytes[static_cast<std::uint8_t>(outcome)], 1,
                       ack_tag(token), &param);
  // An error means the link broke: the sender learns it from the link, not from the ack.
  (void)sent;
}

UcxRequest* UcxPipe::recv_on(std::uint64_t channel, Tag tag, void* data, std::size_t capacity,
                             detail::DirectionCounters* counters) {
  // Posted even on a failed edge: a message that arrived before the failure is still
  // delivered; otherwise the receive is cancelled with the edge's error.
  worker_.take_queued_events();
  UcxRequest* request = pool_.acquire();
  request->start_recv(*this, recv_tag_base_ | channel_bits(channel) | tag, data, capacity, tag,
                      counters);
  if (failure_ && !request->done()) request->cancel_with(*failure_);
  return request;
}

std::string UcxPipe::describe() const {
  return send_name_ + " (ucx: " + endpoint_.transports() + ")";
}

void UcxPipe::fail(const Error& error) {
  if (failure_) return;
  failure_ = error;
  failed_at_ = detail::Clock::now();
  // Receives, and single-copy sends waiting for their ack, would otherwise wait forever.
  pool_.for_each_in_use([&](UcxRequest& request) {
    if (request.pipe() == this && !request.done() &&
        (request.kind() == UcxRequest::Kind::Recv || request.is_single_copy())) {
      request.cancel_with(error);
    }
  });
}

}  // namespace ringpipe::ucx
