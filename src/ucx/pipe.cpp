// ringpipe: a ring edge over a UCX endpoint (host memory).
#include "ucx/pipe.hpp"

namespace ringpipe::ucx {

UcxPipe::UcxPipe(Worker& worker, Endpoint& endpoint, RequestPool& pool, Side side, int rank,
                 int world_size, std::chrono::milliseconds op_timeout)
    : worker_(worker),
      endpoint_(endpoint),
      pool_(pool),
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

Request UcxPipe::isend(const void* data, std::size_t bytes, Tag tag) {
  if (failure_) {
    throw Error(failure_->code(), "isend on " + send_name_ + " tag " + std::to_string(tag) +
                                      " size " + std::to_string(bytes) + ": " +
                                      std::string(failure_->message()));
  }
  if (endpoint_.get() == nullptr) {
    throw Error(Errc::Closed,
                "isend on " + send_name_ + " tag " + std::to_string(tag) + ": the link is closed");
  }
  if (data == nullptr && bytes != 0) {
    throw Error(Errc::InvalidArgument, "isend on " + send_name_ + " tag " + std::to_string(tag) +
                                           ": null buffer of " + std::to_string(bytes) + " bytes");
  }
  UcxRequest* request = pool_.acquire();
  request->start_send(*this, send_tag_base_ | tag, data, bytes, tag);
  return detail::make_request(request);
}

Request UcxPipe::irecv(void* data, std::size_t capacity, Tag tag) {
  if (data == nullptr && capacity != 0) {
    throw Error(Errc::InvalidArgument, "irecv on " + recv_name_ + " tag " + std::to_string(tag) +
                                           ": null buffer of " + std::to_string(capacity) +
                                           " bytes");
  }
  // Posted even on a failed edge: a message that arrived before the failure is still
  // delivered; otherwise the receive is cancelled with the edge's error.
  UcxRequest* request = pool_.acquire();
  request->start_recv(*this, recv_tag_base_ | tag, data, capacity, tag);
  if (failure_ && !request->done()) request->cancel_with(*failure_);
  return detail::make_request(request);
}

std::string UcxPipe::describe() const {
  return send_name_ + " (ucx: " + endpoint_.transports() + ")";
}

void UcxPipe::fail(const Error& error) {
  if (failure_) return;
  failure_ = error;
  pool_.for_each_in_use([&](UcxRequest& request) {
    if (request.pipe() == this && !request.done() && request.kind() == UcxRequest::Kind::Recv) {
      request.cancel_with(error);
    }
  });
}

}  // namespace ringpipe::ucx
