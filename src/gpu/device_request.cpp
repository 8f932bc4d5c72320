// ringpipe: one GPU-mode operation.
#include "gpu/device_request.hpp"

#include "gpu/channels.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/device_pipe.hpp"
#include "gpu/engine.hpp"
#include "log.hpp"

#include <utility>

namespace ringpipe::gpu {
namespace {

// How long a cancelled or abandoned operation may take to settle before its edge is failed.
constexpr auto kSettleTimeout = std::chrono::milliseconds(2000);
// Stands for the legacy default stream (CUDA numbers streams from 0 up).
constexpr std::uint64_t kLegacyStreamId = ~std::uint64_t{0};

// What tells streams apart for as long as they live (a handle may be reused once a stream is
// destroyed, and cudaStreamPerThread names another stream in each thread); nullopt if CUDA
// cannot say.
std::optional<std::uint64_t> stream_identity(cudaStream_t stream) {
  if (stream == nullptr) return kLegacyStreamId;  // the legacy default stream: one per device
  unsigned long long id = 0;
  if (cudaStreamGetId(stream, &id) == cudaSuccess) return id;
  (void)cudaGetLastError();
  return std::nullopt;
}

}  // namespace

void DeviceRequest::reset() noexcept {
  meter_.dropped();  // a post that threw before its operation began
  pipe_ = nullptr;
  stage_ = Stage::Done;
  bytes_ = 0;
  released_ = false;
  dropped_ = false;
  error_.reset();
  message_ = answer_ = nullptr;
  drop_transfer_state();
  copy_status_ = cudaSuccess;
  transferred_ = false;
  through_ucx_ = false;
  copy_source_ = nullptr;
  source_ready_ = nullptr;
}

void DeviceRequest::start_send(DevicePipe& pipe, const void* data, std::size_t bytes, Tag tag,
                               cudaStream_t stream, const PointerInfo& source) {
  pipe_ = &pipe;
  kind_ = Kind::Send;
  tag_ = tag;
  size_ = bytes;
  buffer_ = const_cast<void*>(data);
  stream_ = stream;
  started_ = detail::Clock::now();
  meter_.start(pipe.counters().send, detail::LatencyClock::now());
  stage_ = Stage::Posted;
  descriptor_ = Descriptor{};
  descriptor_.sequence = pipe.next_sequence();
  descriptor_.bytes = bytes;
  through_ucx_ = pipe.through_ucx();
  if (through_ucx_) {
    // Handed to UCX once the stream has reached the send (advance_through_ucx).
    record_ready(stream, "send");
    engine_->track(this);
    return;
  }
  try {
    if (bytes != 0 && pipe.nccl() != nullptr) {
      descriptor_.kind = SourceKind::Nccl;
      ready_ = pipe.events().acquire();
      if (const cudaError_t status = cudaEventRecord(ready_, stream); status != cudaSuccess) {
        fail(status, describe_operation() + ": cannot record the send on its stream");
      }
    } else if (bytes != 0) {
      event_slot_ = pipe.acquire_event_slot();
      if (const cudaError_t status = cudaEventRecord(pipe.event(event_slot_), stream);
          status != cudaSuccess) {
        fail(status, describe_operation() + ": cannot record the send on its stream");
      }
      if (const auto id = stream_identity(stream)) {
        descriptor_.stream_known = 1;
        descriptor_.stream_id = *id;
      }
      const auto address = reinterpret_cast<std::uintptr_t>(data);
      if (pipe.same_process()) {
        descriptor_.kind = SourceKind::SameProcess;
        descriptor_.pointer = address;
        descriptor_.event_pointer = reinterpret_cast<std::uintptr_t>(pipe.event(event_slot_));
      } else {
        descriptor_.kind = SourceKind::IpcHandle;
        descriptor_.buffer_id = source.buffer_id;
        descriptor_.offset = address - source.base;
        descriptor_.memory = pipe.export_memory(source.buffer_id, source.base);
        descriptor_.event_slot = static_cast<std::uint32_t>(event_slot_);
        descriptor_.event = pipe.event_handle(event_slot_);
      }
    }
    // The reply's receive goes first, so the reply can never arrive unexpected.
    answer_ = pipe.host().post_control_recv(kReplyChannel, static_cast<Tag>(descriptor_.sequence),
                                            &reply_, sizeof reply_);
    message_ =
        pipe.host().post_control_send(kDescriptorChannel, tag, &descriptor_, sizeof descriptor_);
  } catch (...) {
    finish(std::nullopt);
    throw;
  }
  engine_->track(this);
}

void DeviceRequest::start_recv(DevicePipe& pipe, void* data, std::size_t capacity, Tag tag,
                               cudaStream_t stream) {
  pipe_ = &pipe;
  kind_ = Kind::Recv;
  tag_ = tag;
  size_ = capacity;
  buffer_ = data;
  stream_ = stream;
  started_ = detail::Clock::now();
  meter_.start(pipe.counters().recv, detail::LatencyClock::now());
  stage_ = Stage::Posted;
  receive_order_ = pipe.next_receive_order();
  stream_id_ = stream_identity(stream);
  through_ucx_ = pipe.through_ucx();
  // The data lands from another stream (the edge's copy stream, NCCL's, UCX's): not before the
  // work enqueued before this call.
  if (capacity != 0 || through_ucx_) record_ready(stream, "receive");
  if (!through_ucx_) {
    message_ =
        pipe.host().post_control_recv(kDescriptorChannel, tag, &descriptor_, sizeof descriptor_);
  }
  engine_->track(this);
}

void DeviceRequest::record_ready(cudaStream_t stream, const char* operation) {
  ready_ = pipe_->events().acquire();
  if (const cudaError_t status = cudaEventRecord(ready_, stream); status != cudaSuccess) {
    finish(std::nullopt);
    fail(status, describe_operation() + ": cannot record the " + operation + " on its stream");
  }
}

bool DeviceRequest::advance() noexcept {
  if (stage_ == Stage::Done || pipe_ == nullptr) return false;
  try {
    if (through_ucx_) return advance_through_ucx();
    return kind_ == Kind::Send ? advance_send() : advance_recv();
  } catch (const Error& error) {
    finish(error);
  } catch (const std::exception& error) {
    finish(Error(Errc::Internal, describe_operation() + ": " + error.what()));
  }
  return true;
}

Error DeviceRequest::in_context(const Error& message_error) const {
  // The edge's own failure names the cause best (the host message's error restates it).
  const Error& cause = pipe_->host().failure() ? *pipe_->host().failure() : message_error;
  return Error(cause.code(), describe_operation() + ": " + std::string(cause.message()));
}

bool DeviceRequest::advance_send() {
  if (stage_ == Stage::Copying) return advance_transfer();
  if (waiting_turn_) {
    if (pipe_->host().failure()) {
      finish(in_context(*pipe_->host().failure()));
      return true;
    }
    if (!pipe_->nccl()->is_send_turn(turn_)) return false;
    enqueue_nccl_send();
    return true;
  }
  if (message_->done()) {
    if (auto error = message_->outcome()) {
      finish(in_context(*error));
      return true;
    }
  }
  if (!answer_->done()) return false;
  if (auto error = answer_->outcome()) {
    finish(in_context(*error));
    return true;
  }
  if (!message_->done()) return false;
  if (answer_->bytes() != sizeof reply_ || reply_.magic != kReplyMagic ||
      reply_.sequence != descriptor_.sequence) {
    finish(Error(Errc::ProtocolMismatch, describe_operation() + ": malformed reply from rank " +
                                             std::to_string(pipe_->peer())));
    return true;
  }
  // Messages are built only on failure: this runs for every message.
  const auto what = [this] { return describe_operation() + ": "; };
  switch (known_status(reply_.status)) {
    case ReplyStatus::Copied:
      bytes_ = size_;
      finish(std::nullopt);
      break;
    case ReplyStatus::Go:
      if (pipe_->nccl() == nullptr) {
        finish(Error(Errc::ProtocolMismatch, what() + "an NCCL reply on a CUDA IPC edge"));
        break;
      }
      release_messages();
      waiting_turn_ = true;
      turn_ = reply_.turn;
      if (pipe_->nccl()->is_send_turn(turn_)) enqueue_nccl_send();
      break;
    case ReplyStatus::Truncated:
      finish(Error(Errc::Truncated, what() + "the message of " + std::to_string(size_) +
                                        " bytes does not fit the receive buffer of " +
                                        std::to_string(reply_.capacity) + " bytes"));
      break;
    case ReplyStatus::Dropped:
      finish(Error(Errc::Closed, what() + "rank " + std::to_string(pipe_->peer()) +
                                     " cancelled its receive before taking the data"));
      break;
    case ReplyStatus::Failed:
      finish(Error(Errc::PeerFailed, what() + "rank " + std::to_string(pipe_->peer()) +
                                         " could not copy the data (its log says why)"));
      break;
  }
  return true;
}

bool DeviceRequest::advance_recv() {
  switch (stage_) {
    case Stage::Posted: {
      if (!message_->done()) return false;
      if (auto error = message_->outcome()) {
        finish(in_context(*error));
        return true;
      }
      if (message_->bytes() != sizeof descriptor_ || descriptor_.magic != kDescriptorMagic) {
        finish(Error(Errc::ProtocolMismatch, describe_operation() +
                                                 ": malformed descriptor from rank " +
                                                 std::to_string(pipe_->peer())));
        return true;
      }
      message_->release();
      message_ = nullptr;
      if (dropped_) {
        send_reply(ReplyStatus::Dropped);
        return true;
      }
      if (descriptor_.bytes > size_) {
        error_ = Error(Errc::Truncated, describe_operation() + ": the message of " +
                                            std::to_string(descriptor_.bytes) +
                                            " bytes does not fit the receive buffer of " +
                                            std::to_string(size_) + " bytes");
        send_reply(ReplyStatus::Truncated);
        return true;
      }
      bytes_ = descriptor_.bytes;
      if (bytes_ == 0) {
        send_reply(ReplyStatus::Copied);
        return true;
      }
      try {
        if (pipe_->nccl() != nullptr) {
          start_nccl_receive();
          return true;
        }
        queue_copy();
      } catch (const Error& error) {
        detail::log(detail::LogLevel::Error, error.what());
        error_ = error;
        send_reply(ReplyStatus::Failed);
      }
      return true;
    }
    case Stage::Copying:
      return advance_transfer();
    case Stage::Replying:
      if (!answer_->done()) return false;
      // A reply that could not be sent (the sender died) changes nothing here: the data landed.
      finish(error_);
      return true;
    case Stage::Done:
      break;
  }
  return false;
}

bool DeviceRequest::advance_through_ucx() {
  if (stage_ == Stage::Posted) {
    if (dropped_) {
      finish(Error(Errc::Closed, describe_operation() + " was dropped"));
      return true;
    }
    // UCX knows nothing of streams: the buffer goes to it once the stream has reached the call.
    const cudaError_t state = cudaEventQuery(ready_);
    if (state == cudaErrorNotReady) return false;
    if (state != cudaSuccess) {
      (void)cudaGetLastError();
      finish(Error(Errc::Internal,
                   describe(state, describe_operation() + ": its stream failed before it")));
      return true;
    }
    transferred_ = true;  // `ready_` has been passed
    ucx::UcxPipe& host = pipe_->host();
    message_ = kind_ == Kind::Send
                   ? host.post_control_send(kDescriptorChannel, tag_, buffer_, size_)
                   : host.post_control_recv(kDescriptorChannel, tag_, buffer_, size_);
    stage_ = Stage::Copying;
    return true;
  }
  if (stage_ != Stage::Copying || !message_->done()) return false;
  if (auto error = message_->outcome()) {
    finish(in_context(*error));
    return true;
  }
  bytes_ = kind_ == Kind::Send ? size_ : message_->bytes();
  finish(std::nullopt);
  return true;
}

bool DeviceRequest::advance_transfer() {
  if (pipe_->nccl() != nullptr) return advance_nccl_transfer();
  if (copy_queued_ || copy_in_flight_) return false;  // the batcher reports the copy's end
  if (holds_mapping_) pipe_->unmap_source(mapping_key_);
  holds_mapping_ = false;
  if (copy_status_ != cudaSuccess) {
    error_ = Error(Errc::Internal,
                   describe(copy_status_, describe_operation() + ": the transfer failed"));
  }
  send_reply(error_ ? ReplyStatus::Failed : ReplyStatus::Copied);
  return true;
}

bool DeviceRequest::advance_nccl_transfer() {
  NcclComm* comm = pipe_->nccl();
  if (pipe_->host().failure()) {
    // The neighbour is gone: its half of the transfer will never come, and NCCL would wait
    // for it forever.
    comm->abort();
    finish(in_context(*pipe_->host().failure()));
    return true;
  }
  if (!recorded_) return false;  // 1-rank NCCL ring: the send has not enqueued this yet
  const cudaError_t state = cudaEventQuery(copy_done_);
  if (state == cudaErrorNotReady) return false;
  pipe_->events().release(std::exchange(copy_done_, nullptr));
  transferred_ = true;
  if (state != cudaSuccess) {
    (void)cudaGetLastError();
    error_ = Error(Errc::Internal, describe(state, describe_operation() + ": the transfer failed"));
  }
  // The sender completes on its own; the receiver's "go" may still be on its way.
  if (kind_ == Kind::Send) bytes_ = error_ ? 0 : size_;
  if (answer_ == nullptr || answer_->done()) {
    finish(error_);
  } else {
    stage_ = Stage::Replying;
  }
  return true;
}

void DeviceRequest::start_nccl_receive() {
  NcclComm& comm = *pipe_->nccl();
  copy_done_ = pipe_->events().acquire();
  const std::uint64_t turn = comm.take_receive_turn();
  if (comm.self_loop()) {
    recorded_ = false;
    comm.self_receives().push_back({buffer_, bytes_, ready_, copy_done_, &recorded_});
  } else {
    try {
      comm.enqueue_receive(buffer_, bytes_, ready_, copy_done_, describer(),
                           detail::Deadline(pipe_->host().op_timeout()));
    } catch (const Error& error) {
      fail_edge(error);  // the turns of the two ranks no longer agree
      throw;
    }
  }
  stage_ = Stage::Copying;
  (void)post_reply(ReplyStatus::Go, turn);
}

void DeviceRequest::enqueue_nccl_send() {
  NcclComm& comm = *pipe_->nccl();
  copy_done_ = pipe_->events().acquire();
  const detail::Deadline deadline(pipe_->host().op_timeout());
  try {
    if (comm.self_loop()) {
      comm.enqueue_self_pair(buffer_, size_, ready_, copy_done_, describer(), deadline);
    } else {
      comm.enqueue_send(buffer_, size_, ready_, copy_done_, describer(), deadline);
    }
  } catch (const Error& error) {
    fail_edge(error);  // the turns of the two ranks no longer agree
    throw;
  }
  comm.end_send_turn();
  waiting_turn_ = false;
  stage_ = Stage::Copying;
}

void DeviceRequest::queue_copy() {
  if (descriptor_.kind == SourceKind::SameProcess) {
    copy_source_ = reinterpret_cast<const char*>(descriptor_.pointer);
    source_ready_ = reinterpret_cast<cudaEvent_t>(descriptor_.event_pointer);
  } else {
    copy_source_ = pipe_->map_source(descriptor_, mapping_key_) + descriptor_.offset;
    holds_mapping_ = true;
    source_ready_ = pipe_->source_event(descriptor_);
  }
  pipe_->copies().queue(*this);
  copy_queued_ = true;
  stage_ = Stage::Copying;
}

void DeviceRequest::copy_enqueued() noexcept {
  copy_queued_ = false;
  copy_in_flight_ = true;
}

void DeviceRequest::copy_landed(cudaError_t status) noexcept {
  copy_in_flight_ = false;
  copy_status_ = status;
  transferred_ = true;
}

void DeviceRequest::copy_failed(const Error& error) noexcept {
  if (!copy_queued_) return;
  copy_queued_ = false;
  if (holds_mapping_) pipe_->unmap_source(mapping_key_);
  holds_mapping_ = false;
  error_ = Error(error.code(), describe_operation() + ": " + std::string(error.message()));
  try {
    send_reply(ReplyStatus::Failed);
  } catch (...) {
    finish(error_);
  }
}

bool DeviceRequest::post_reply(ReplyStatus status, std::uint64_t turn) {
  reply_ = Reply{};
  reply_.status = status;
  reply_.sequence = descriptor_.sequence;
  reply_.capacity = size_;
  reply_.turn = turn;
  try {
    answer_ = pipe_->host().post_control_send(kReplyChannel, static_cast<Tag>(descriptor_.sequence),
                                              &reply_, sizeof reply_);
    return true;
  } catch (const Error& error) {
    // The edge failed after the data landed: the receive itself succeeded.
    finish(status == ReplyStatus::Copied ? error_ : (error_ ? error_ : error));
    return false;
  }
}

void DeviceRequest::send_reply(ReplyStatus status) {
  if (post_reply(status)) stage_ = Stage::Replying;
}

void DeviceRequest::release_messages() noexcept {
  if (message_ != nullptr) std::exchange(message_, nullptr)->release();
  if (answer_ != nullptr) std::exchange(answer_, nullptr)->release();
}

void DeviceRequest::finish(std::optional<Error> error) noexcept {
  release_messages();
  if (pipe_ != nullptr) {
    if (copy_queued_) pipe_->copies().unqueue(*this);
    // A copy still running is left to the pipe, which keeps its event until it ends.
    if (copy_in_flight_) pipe_->copies().forget(*this);
    if (event_slot_ >= 0) pipe_->release_event_slot(event_slot_);
    // The transfer waited for `ready_`: once it is over, so is `ready_`. An event still in use
    // by an abandoned transfer is dropped rather than reused.
    if (ready_ != nullptr &&
        (transferred_ || (recorded_ && cudaEventQuery(ready_) == cudaSuccess))) {
      pipe_->events().release(ready_);
    }
    if (copy_done_ != nullptr && recorded_ && cudaEventQuery(copy_done_) == cudaSuccess) {
      pipe_->events().release(copy_done_);
    }
    if (holds_mapping_) pipe_->unmap_source(mapping_key_);
  }
  drop_transfer_state();
  if (!error) {
    meter_.succeeded(bytes_);
  } else if (dropped_) {
    meter_.dropped();
  } else {
    meter_.failed(*error);
  }
  error_ = std::move(error);
  stage_ = Stage::Done;
}

void DeviceRequest::drop_transfer_state() noexcept {
  event_slot_ = -1;
  copy_done_ = nullptr;
  ready_ = nullptr;
  recorded_ = true;
  waiting_turn_ = false;
  copy_queued_ = false;
  copy_in_flight_ = false;
  holds_mapping_ = false;
}

void DeviceRequest::fail_edge(const Error& error) noexcept {
  if (pipe_ == nullptr) return;
  if (pipe_->nccl() != nullptr) pipe_->nccl()->abort();
  pipe_->host().fail(error);
  pipe_->host().endpoint().close_by_force();
}

bool DeviceRequest::finish_by(const detail::Deadline& deadline) {
  return engine_->worker().progress_until([this] { return stage_ == Stage::Done; }, deadline);
}

bool DeviceRequest::test() {
  if (stage_ != Stage::Done && engine_ != nullptr) engine_->worker().progress_once();
  if (stage_ != Stage::Done) {
    if (engine_ == nullptr) throw_failure();
    return false;
  }
  if (error_) throw_failure();
  return true;
}

void DeviceRequest::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (stage_ != Stage::Done && engine_ != nullptr) {
    const detail::Deadline deadline(timeout.value_or(pipe_->host().op_timeout()));
    if (!finish_by(deadline)) {
      const Error expired(Errc::Timeout, describe_operation() + " timed out after " +
                                             detail::format_seconds(deadline.elapsed_s()));
      if (kind_ == Kind::Send) {
        // The receiver may be copying from the buffer; failing the edge tells it to stop
        // trusting this rank, and completes the host messages.
        fail_edge(expired);
      } else if (through_ucx_ && message_ == nullptr) {
        finish(expired);  // still waiting for its stream: nothing was handed to UCX
      } else if ((stage_ == Stage::Posted || through_ucx_) && message_ != nullptr) {
        message_->cancel_with(expired);
      }
      (void)finish_by(detail::Deadline(kSettleTimeout));
      if (stage_ != Stage::Done) {
        // A copy still queued behind the stream's work: it completes in stream order; the
        // sender must not wait for a reply that may never come.
        fail_edge(expired);
        throw expired;
      }
      // A receive that matched while being cancelled has its data: that is a success;
      // otherwise the timeout is the cause, whatever cancelling it made the messages say.
      if (error_) error_ = expired;
    }
  }
  if (stage_ != Stage::Done || error_) throw_failure();
}

bool DeviceRequest::wait_for(std::chrono::milliseconds timeout) {
  if (stage_ != Stage::Done && engine_ != nullptr && !finish_by(detail::Deadline(timeout))) {
    return false;
  }
  if (stage_ != Stage::Done || error_) throw_failure();
  return true;
}

void DeviceRequest::release() noexcept {
  if (engine_ == nullptr) {
    delete this;  // detached from a Ring that is gone
    return;
  }
  if (stage_ != Stage::Done) {
    try {
      if (kind_ == Kind::Send) {
        // As in CPU mode: the receiver gets the operation timeout (or the unwinding grace).
        if (!finish_by(detail::Deadline(detail::dropped_send_grace(pipe_->host().op_timeout())))) {
          fail_edge(Error(Errc::Timeout, describe_operation() + " was dropped unfinished"));
          (void)finish_by(detail::Deadline(kSettleTimeout));
        }
      } else if (stage_ == Stage::Posted || through_ucx_) {
        dropped_ = true;
        if (message_ != nullptr) {
          message_->cancel_with(Error(Errc::Closed, describe_operation() + " was dropped"));
        }
        (void)finish_by(detail::Deadline(kSettleTimeout));
      }
    } catch (const std::exception& error) {
      detail::log(detail::LogLevel::Error, error.what());
    }
  }
  if (stage_ != Stage::Done) {
    released_ = true;  // the engine recycles it once it settles
    return;
  }
  engine_->recycle(this);
}

void DeviceRequest::detach() noexcept {
  if (copy_in_flight_) {
    // The mapping it reads must not be closed under the copy.
    const detail::Deadline deadline(kSettleTimeout);
    while (copy_in_flight_ && !deadline.expired()) pipe_->copies().reap();
  }
  if (stage_ != Stage::Done) {
    finish(Error(Errc::Closed, describe_operation() + ": the ring was closed"));
  }
  engine_ = nullptr;
  pipe_ = nullptr;
}

void DeviceRequest::throw_failure() const {
  if (error_) throw *error_;
  throw Error(Errc::Closed, describe_operation() + ": the ring was closed");
}

std::string DeviceRequest::describe_operation() const {
  const bool sending = kind_ == Kind::Send;
  return std::string(sending ? "send" : "recv") + " on " +
         (pipe_ ? pipe_->host().name(sending) : std::string("a closed ring")) + " tag " +
         std::to_string(tag_) + " size " + std::to_string(size_) +
         (pipe_ && pipe_->nccl() ? " (nccl)"
          : through_ucx_         ? " (ucx)"
                                 : " (cuda-ipc)");
}

}  // namespace ringpipe::gpu
