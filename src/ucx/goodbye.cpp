// ringpipe: the orderly close of one endpoint, in band with the data.
#include "ucx/goodbye.hpp"

#include "ucx/status.hpp"
#include "ucx/tag_layout.hpp"

#include <string>

namespace ringpipe::ucx {

Goodbye::Goodbye(Worker& worker, Endpoint& endpoint, int own_rank)
    : worker_(worker), endpoint_(endpoint), own_rank_(own_rank) {
  if (endpoint.peer() == own_rank) return;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.recv = &on_received;
  param.user_data = this;
  const ucs_status_ptr_t request =
      ucp_tag_recv_nbx(worker.get(), nullptr, 0, goodbye_tag(endpoint.peer()), kFullMask, &param);
  if (UCS_PTR_IS_ERR(request)) {
    check(UCS_PTR_STATUS(request),
          "cannot post the close receive for rank " + std::to_string(endpoint.peer()));
  }
  receive_ = HeldRequest(request);  // never NULL: the peer has not closed yet
  receiving_ = true;
}

void Goodbye::on_received(void* /*request*/, ucs_status_t status,
                          const ucp_tag_recv_info_t* /*info*/, void* user_data) {
  auto* self = static_cast<Goodbye*>(user_data);
  self->receiving_ = false;
  if (status == UCS_OK) {
    self->received_ = true;
    self->worker_.request_after_progress();
  }
}

void Goodbye::on_sent(void* /*request*/, ucs_status_t /*status*/, void* user_data) {
  static_cast<Goodbye*>(user_data)->sent_ = true;
}

void Goodbye::send() {
  if (posted_ || endpoint_.peer() == own_rank_ || endpoint_.failed() || received_) return;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &on_sent;
  param.user_data = this;
  const ucs_status_ptr_t request =
      ucp_tag_send_nbx(endpoint_.get(), nullptr, 0, goodbye_tag(own_rank_), &param);
  if (UCS_PTR_IS_ERR(request)) return;  // the endpoint is failing: the peer learns it so
  posted_ = true;
  // NULL: completed in place, which means queued locally, not yet delivered.
  if (request == nullptr) sent_ = true;
  send_ = HeldRequest(request);
}

void Goodbye::finish_send(const detail::Deadline& deadline) {
  if (!posted_) return;
  worker_.progress_until([this] { return sent_; }, deadline);
  // A send that completed locally may still sit in a transport queue: the flush is what says
  // it (and everything before it) reached the peer.
  endpoint_.flush(deadline);
}

void Goodbye::cancel_receive() noexcept {
  if (receiving_) ucp_request_cancel(worker_.get(), receive_.get());
}

bool Goodbye::settled() const noexcept { return !receiving_ && (!posted_ || sent_); }

}  // namespace ringpipe::ucx
