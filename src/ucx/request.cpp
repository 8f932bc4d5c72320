// ringpipe: one in-flight UCX tag send or receive.
#include "ucx/request.hpp"

#include "log.hpp"
#include "ucx/pipe.hpp"
#include "ucx/single_copy.hpp"
#include "ucx/status.hpp"

#include <algorithm>
#include <cstring>

namespace ringpipe::ucx {
namespace {

// How long a detached or cancelled request may take to hand its buffer back before its
// endpoint is closed by force (which makes UCX complete it).
constexpr auto kCancelTimeout = std::chrono::milliseconds(2000);
// How long a matched receive may go on after its link failed before it is given up: enough
// for data already in this host's queues to land.
constexpr auto kStuckAfterFailure = std::chrono::milliseconds(200);

}  // namespace

ucp_request_param_t UcxRequest::begin(UcxPipe& pipe, Kind kind, std::size_t size, Tag tag,
                                      detail::DirectionCounters* counters, bool stamp) {
  pipe_ = &pipe;
  kind_ = kind;
  size_ = size;
  tag_ = tag;
  callback_ran_ = false;
  posted_ = stamp ? detail::LatencyClock::now() : 0;
  if (counters != nullptr) meter_.start(*counters, posted_);
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.user_data = this;
  return param;
}

void UcxRequest::start_send(UcxPipe& pipe, std::uint64_t ucx_tag, const void* data,
                            std::size_t bytes, Tag tag, detail::DirectionCounters* counters) {
  ucp_request_param_t param = begin(pipe, Kind::Send, bytes, tag, counters, /*stamp=*/false);
  param.cb.send = &UcxRequest::on_send;
  const ucs_status_ptr_t sent =
      ucp_tag_send_nbx(pipe.endpoint().get(), data, bytes, ucx_tag, &param);
  // A send is timed from the post's return: a clock read before it would delay the message.
  posted_ = detail::LatencyClock::now();
  meter_.restamp(posted_);
  after_post(sent);
}

void UcxRequest::start_recv(UcxPipe& pipe, std::uint64_t ucx_tag, void* data, std::size_t capacity,
                            Tag tag, detail::DirectionCounters* counters) {
  ucp_request_param_t param = begin(pipe, Kind::Recv, capacity, tag, counters);
  // With UCP_OP_ATTR_FIELD_RECV_INFO, receives that UCX 1.13 completed in place (eager messages
  // already waiting) reported length 0 in our tests; completing every receive through the
  // callback, which is always given the length, avoids that.
  param.op_attr_mask |= UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.cb.recv = &UcxRequest::on_recv;
  user_buffer_ = data;
  // A descriptor must fit where UCX writes: a smaller receive lands in the staging buffer.
  staged_ = capacity < sizeof staging_ && pipe.copy_paths().receives;
  posting_ = true;
  after_post(ucp_tag_recv_nbx(pipe.worker().get(), staged_ ? staging_ : data,
                              staged_ ? sizeof staging_ : capacity, ucx_tag, kDataMask, &param));
  posting_ = false;
}

void UcxRequest::start_single_copy_send(UcxPipe& pipe, std::uint64_t ucx_tag,
                                        const single_copy::Descriptor& descriptor,
                                        std::size_t bytes, Tag tag,
                                        detail::DirectionCounters* counters) {
  ucp_request_param_t param = begin(pipe, Kind::Send, bytes, tag, counters);
  single_copy_ = true;
  descriptor_ = descriptor;
  descriptor_.ack_token = pipe.single_copy().next_token();
  // The ack's receive first: it is what completes the request (ucx_request_ while pending).
  ucp_request_param_t ack = param;
  ack.op_attr_mask |= UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  ack.cb.recv = &UcxRequest::on_ack;
  posting_ = true;
  after_post(ucp_tag_recv_nbx(pipe.worker().get(), &ack_byte_, sizeof ack_byte_,
                              ack_tag(descriptor_.ack_token), kFullMask, &ack));
  posting_ = false;
  if (done_) return;  // the ack's receive could not be posted
  param.cb.send = &UcxRequest::on_descriptor_sent;
  const ucs_status_ptr_t sent = ucp_tag_send_nbx(
      pipe.endpoint().get(), &descriptor_, sizeof descriptor_, ucx_tag | kSingleCopyBit, &param);
  if (UCS_PTR_IS_ERR(sent)) {
    cancel_with(Error(errc_of(UCS_PTR_STATUS(sent)),
                      "its descriptor could not be sent: " + describe(UCS_PTR_STATUS(sent))));
  } else if (sent != nullptr) {
    descriptor_send_ = sent;
  }
}

void UcxRequest::after_post(ucs_status_ptr_t result) {
  if (result == nullptr) {  // a send completed in place (receives never do, see start_recv)
    complete(UCS_OK, size_);
  } else if (UCS_PTR_IS_ERR(result)) {
    done_ = true;
    status_ = UCS_PTR_STATUS(result);
  } else if (callback_ran_) {
    ucp_request_free(result);  // the callback already ran, inside the post
  } else {
    ucx_request_ = result;
  }
}

void UcxRequest::on_send(void* request, ucs_status_t status, void* user_data) {
  auto* self = static_cast<UcxRequest*>(user_data);
  ucp_request_free(request);
  self->ucx_request_ = nullptr;
  if (self->released_) {
    delete self;  // its Request is gone; it waited only for this callback
    return;
  }
  self->complete(status, self->size_);
}

void UcxRequest::on_recv(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                         void* user_data) {
  auto* self = static_cast<UcxRequest*>(user_data);
  if (!self->posting_) ucp_request_free(request);
  self->ucx_request_ = nullptr;
  self->callback_ran_ = true;
  if (self->released_) {
    delete self;
    return;
  }
  // On truncation UCX reports the sender's length, which the error message states.
  if (info != nullptr) self->recv_info_ = *info;
  const std::size_t length = info != nullptr ? info->length : 0;
  if (status == UCS_OK && length == sizeof self->descriptor_ && self->holds_descriptor()) {
    self->descriptor_arrived();
    return;
  }
  if (self->staged_) self->unstage(status, length);
  self->complete(status, length);
}

void UcxRequest::unstage(ucs_status_t& status, std::size_t length) noexcept {
  if (status != UCS_OK) return;
  if (length > size_) {
    status = UCS_ERR_MESSAGE_TRUNCATED;  // recv_info_ holds the message's length
    return;
  }
  if (length > 0) std::memcpy(user_buffer_, staging_, length);
}

bool UcxRequest::holds_descriptor() const noexcept {
  if (pipe_ == nullptr || !pipe_->copy_paths().receives) return false;
  single_copy::Descriptor header;
  std::memcpy(&header, staged_ ? staging_ : user_buffer_, sizeof header);
  return header.magic == single_copy::Descriptor::kMagic &&
         header.nonce == pipe_->copy_paths().peer_nonce;
}

void UcxRequest::descriptor_arrived() noexcept {
  std::memcpy(&descriptor_, staged_ ? staging_ : user_buffer_, sizeof descriptor_);
  single_copy_ = true;
  pipe_->single_copy().enqueue(this);
  pipe_->worker().request_after_progress();
}

void UcxRequest::copy_from_peer(single_copy::PeerReader& reader) noexcept {
  using single_copy::Outcome;
  using Status = single_copy::ReadResult::Status;
  const std::uint32_t token = descriptor_.ack_token;
  if (pipe_ == nullptr) return;
  if (done_) {  // cancelled after its descriptor came: the sender's data was not taken
    pipe_->send_ack(token, Outcome::Dropped);
    return;
  }
  try {
    if (pipe_->failure()) {
      error_ = in_context(*pipe_->failure());
      complete(UCS_ERR_CANCELED, 0);
      return;
    }
    if (descriptor_.size > size_) {
      pipe_->send_ack(token, Outcome::Truncated);
      recv_info_.length = descriptor_.size;
      complete(UCS_ERR_MESSAGE_TRUNCATED, 0);
      return;
    }
    const single_copy::ReadResult result =
        reader.read(pipe_->copy_paths().peer_pid, descriptor_, user_buffer_);
    if (result.status == Status::Ok) {
      pipe_->send_ack(token, Outcome::Copied);
      complete(UCS_OK, descriptor_.size);
      return;
    }
    if (result.status == Status::PeerGone) {
      error_ = Error(Errc::PeerFailed,
                     describe_operation() + ": rank " + std::to_string(pipe_->peer()) +
                         " exited before its message was copied whole (" + result.why + ")");
    } else {
      pipe_->send_ack(token, Outcome::Failed);
      error_ = Error(Errc::Internal,
                     describe_operation() + ": cannot read the sender's memory: " + result.why);
    }
    complete(UCS_ERR_IO_ERROR, 0);
  } catch (const std::exception& error) {  // no memory for a message: still end the receive
    detail::log(detail::LogLevel::Error, error.what());
    complete(UCS_ERR_NO_MEMORY, 0);
  }
}

void UcxRequest::on_ack(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                        void* user_data) {
  auto* self = static_cast<UcxRequest*>(user_data);
  if (!self->posting_) ucp_request_free(request);
  self->ucx_request_ = nullptr;
  self->callback_ran_ = true;
  if (self->released_) {
    if (!self->transport_owns()) delete self;
    return;
  }
  self->acked_ = true;
  self->ack_status_ = status;
  if (status == UCS_OK && info != nullptr && info->length == sizeof self->ack_byte_) {
    self->ack_outcome_ = static_cast<single_copy::Outcome>(self->ack_byte_);
  }
  self->finish_single_copy_send();
}

void UcxRequest::on_descriptor_sent(void* request, ucs_status_t status, void* user_data) {
  auto* self = static_cast<UcxRequest*>(user_data);
  ucp_request_free(request);
  self->descriptor_send_ = nullptr;
  if (self->released_) {
    if (!self->transport_owns()) delete self;
    return;
  }
  if (status != UCS_OK && !self->acked_) {
    // The ack will not come: end the request through its ack's receive.
    self->cancel_with(
        Error(errc_of(status), "its descriptor was not delivered: " + describe(status)));
    return;
  }
  self->finish_single_copy_send();
}

void UcxRequest::finish_single_copy_send() noexcept {
  if (!acked_ || descriptor_send_ != nullptr || done_) return;
  if (ack_status_ != UCS_OK) {
    complete(ack_status_, 0);
    return;
  }
  if (ack_outcome_ == single_copy::Outcome::Failed) {
    error_ = Error(Errc::Internal, describe_operation() +
                                       ": the receiver could not read the message from this "
                                       "rank's memory");
    complete(UCS_ERR_IO_ERROR, 0);
    return;
  }
  complete(UCS_OK, size_);
}

void UcxRequest::complete(ucs_status_t status, std::size_t bytes) noexcept {
  done_ = true;
  status_ = status;
  if (status == UCS_OK) {
    bytes_ = bytes;
    meter_.succeeded(bytes);
  }
  // Cancelled because its edge failed: report the edge's failure, not "cancelled".
  if (status == UCS_ERR_CANCELED && cancel_reason_) error_ = in_context(*cancel_reason_);
}

Error UcxRequest::in_context(const Error& cause) const {
  return Error(cause.code(), describe_operation() + ": " + std::string(cause.message()));
}

inline bool UcxRequest::settled() noexcept {
  return done_ || (pipe_->failure() && abandon_if_stuck());
}

bool UcxRequest::abandon_if_stuck() noexcept {
  if (done_ || kind_ != Kind::Recv || pipe_ == nullptr || !pipe_->failure()) return false;
  // The grace runs from the later of the failure and the post, so every receive gets it whole.
  if (std::min<detail::Clock::duration>(detail::Clock::now() - pipe_->failed_at(),
                                        detail::LatencyClock::since(posted_)) <
      kStuckAfterFailure) {
    return false;
  }
  done_ = true;
  status_ = UCS_ERR_CANCELED;
  error_ = in_context(*pipe_->failure());
  return true;
}

bool UcxRequest::test() {
  if (!done_ && pipe_ != nullptr) pipe_->worker().progress_once();
  if (!done_ && pipe_ != nullptr && !abandon_if_stuck()) return false;
  if (!done_ || status_ != UCS_OK || error_) throw_failure();
  return true;
}

std::optional<Error> UcxRequest::outcome() {
  if (done_ && status_ == UCS_OK && !error_) return std::nullopt;
  try {
    throw_failure();
  } catch (const Error& error) {
    return error;
  }
}

void UcxRequest::wait(std::optional<std::chrono::milliseconds> timeout) {
  const auto finished = [this] { return settled(); };
  if (!done_ && pipe_ != nullptr && !pipe_->worker().progress_briefly(finished)) {
    const detail::Deadline deadline(timeout.value_or(pipe_->op_timeout()));
    if (!pipe_->worker().progress_until(finished, deadline)) {
      const Error error(Errc::Timeout, describe_operation() + " timed out after " +
                                           detail::format_seconds(deadline.elapsed_s()));
      if (kind_ == Kind::Send) {
        // A send cannot be taken back from UCX: fail the edge and close its endpoint, which
        // completes the send, so the caller may reuse the buffer once this throws.
        pipe_->fail(error);
        pipe_->endpoint().close_by_force();
        pipe_->worker().progress_once();  // the Ring tells the neighbour now, not at the next call
      }
      finish_with_transport(detail::Deadline(kCancelTimeout));
      // A receive that matched while being cancelled has its data: that is a success.
      if (done_ && status_ == UCS_OK && !error_) return;
      if (!error_) error_ = error;
    }
  }
  if (!done_ || status_ != UCS_OK || error_) throw_failure();
}

bool UcxRequest::wait_for(std::chrono::milliseconds timeout) {
  if (!done_ && pipe_ != nullptr) {
    const auto finished = [this] { return settled(); };
    if (!pipe_->worker().progress_until(finished, detail::Deadline(timeout))) return false;
  }
  if (!done_ || status_ != UCS_OK || error_) throw_failure();
  return true;
}

void UcxRequest::throw_failure() {
  Error error = failure();
  meter_.failed(error);
  throw error;
}

Error UcxRequest::failure() const {
  if (error_) return *error_;
  if (status_ == UCS_ERR_MESSAGE_TRUNCATED) {
    return Error(Errc::Truncated, describe_operation() + ": the message of " +
                                      std::to_string(recv_info_.length) +
                                      " bytes does not fit the receive buffer of " +
                                      std::to_string(size_) + " bytes");
  }
  if (pipe_ != nullptr && pipe_->failure()) return in_context(*pipe_->failure());
  return Error(
      errc_of(status_),
      describe_operation() + " failed after " +
          detail::format_seconds(
              std::chrono::duration<double>(detail::LatencyClock::since(posted_)).count()) +
          ": " + describe(status_));
}

std::string UcxRequest::describe_operation() const {
  const bool sending = kind_ == Kind::Send;
  return std::string(sending ? "send" : "recv") + " on " +
         (pipe_ ? pipe_->name(sending) : std::string("a closed ring")) + " tag " +
         std::to_string(tag_) + " size " + std::to_string(size_);
}

void UcxRequest::cancel_with(const Error& error) noexcept {
  if (done_) return;
  cancel_reason_ = error;
  if (copy_queue_ != nullptr) {  // its descriptor came but the copy has not run: it never will
    complete(UCS_ERR_CANCELED, 0);
    return;  // the queue still tells the sender
  }
  if (ucx_request_ != nullptr && pipe_ != nullptr) {
    ucp_request_cancel(pipe_->worker().get(), ucx_request_);
  }
}

void UcxRequest::finish_with_transport(const detail::Deadline& deadline) noexcept {
  if (done_ || pipe_ == nullptr) return;
  try {
    Worker& worker = pipe_->worker();
    if (kind_ == Kind::Recv && ucx_request_ != nullptr) {
      ucp_request_cancel(worker.get(), ucx_request_);
    }
    if (worker.progress_until([this] { return done_; }, deadline)) return;
    // Still in flight (a send to a stuck peer, or a receive already matched): close the
    // endpoint by force, which makes UCX complete every request on it.
    pipe_->fail(Error(Errc::Timeout,
                      describe_operation() + " did not finish; the link was closed by force"));
    pipe_->endpoint().close_by_force();
    worker.progress_once();  // the Ring tells the neighbour now, not at the next call
    worker.progress_until([this] { return done_; }, detail::Deadline(kCancelTimeout));
  } catch (const std::exception& error) {
    detail::log(detail::LogLevel::Error, error.what());
  }
  if (!done_) {
    detail::log(detail::LogLevel::Error,
                describe_operation() + " is still in flight after its link was closed");
  }
}

void UcxRequest::release() noexcept {
  const bool was_done = done_;
  // A send is given time to be received (see dropped_send_grace); only then is its link
  // failed. A receive is simply cancelled.
  if (!done_) {
    const bool sending = kind_ == Kind::Send && pipe_ != nullptr;
    finish_with_transport(detail::Deadline(sending ? detail::dropped_send_grace(pipe_->op_timeout())
                                                   : std::chrono::milliseconds(kCancelTimeout)));
  }
  if (copy_queue_ != nullptr) leave_copy_queue();
  if (meter_.pending()) account_at_release(was_done);
  if (transport_owns()) {
    // UCX still owns the operation (its link could not be closed): the callback frees this.
    if (pool_ != nullptr) pool_->forget(this);
    released_ = true;
    return;
  }
  if (pool_ == nullptr) {
    delete this;  // detached from a Ring that is gone
    return;
  }
  pool_->recycle(this);
}

// A failure the caller never looked at still counts; a receive dropped unfinished was given up,
// which is no failure of the edge; a dropped send that could not be delivered failed.
void UcxRequest::account_at_release(bool was_done) noexcept {
  if (done_ && status_ == UCS_OK && !error_) return;  // counted when it completed
  if (!was_done && kind_ == Kind::Recv) {
    meter_.dropped();
    return;
  }
  try {
    meter_.failed(failure());
  } catch (...) {
    meter_.dropped();  // no memory for the message: at least it is no longer in flight
  }
}

void UcxRequest::leave_copy_queue() noexcept {
  copy_queue_->remove(this);
  if (pipe_ != nullptr) pipe_->send_ack(descriptor_.ack_token, single_copy::Outcome::Dropped);
}

void UcxRequest::detach() noexcept {
  finish_with_transport(detail::Deadline(kCancelTimeout));
  if (copy_queue_ != nullptr) leave_copy_queue();
  if (!done_ || status_ != UCS_OK) {
    error_ = Error(Errc::Closed, describe_operation() + ": the ring was closed");
    meter_.failed(*error_);
  }
  meter_.clear();  // its counters go with the pipe
  pipe_ = nullptr;
  pool_ = nullptr;
}

RequestPool::~RequestPool() {
  for (UcxRequest* request : free_) delete request;
}

UcxRequest* RequestPool::acquire() {
  UcxRequest* request;
  if (free_.empty()) {
    request = new UcxRequest(*this);
  } else {
    request = free_.back();
    free_.pop_back();
  }
  request->prev_ = nullptr;
  request->next_ = in_use_;
  if (in_use_ != nullptr) in_use_->prev_ = request;
  in_use_ = request;
  return request;
}

void RequestPool::forget(UcxRequest* request) noexcept {
  if (request->prev_ != nullptr) request->prev_->next_ = request->next_;
  if (request->next_ != nullptr) request->next_->prev_ = request->prev_;
  if (in_use_ == request) in_use_ = request->next_;
  request->prev_ = request->next_ = nullptr;
}

void RequestPool::recycle(UcxRequest* request) noexcept {
  forget(request);
  request->pipe_ = nullptr;
  request->ucx_request_ = nullptr;
  request->done_ = false;
  request->status_ = UCS_OK;
  request->bytes_ = 0;
  request->single_copy_ = false;
  request->descriptor_send_ = nullptr;
  request->acked_ = false;
  request->ack_status_ = UCS_OK;
  request->ack_outcome_ = single_copy::Outcome::Copied;
  request->staged_ = false;
  request->copy_queue_ = nullptr;
  request->next_copy_ = nullptr;
  request->error_.reset();
  request->cancel_reason_.reset();
  request->meter_.clear();
  try {
    free_.push_back(request);
  } catch (...) {
    delete request;
  }
}

void RequestPool::detach_all() noexcept {
  while (in_use_ != nullptr) {
    UcxRequest* request = in_use_;
    in_use_ = request->next_;
    request->prev_ = request->next_ = nullptr;
    request->detach();
  }
}

}  // namespace ringpipe::ucx
