// ringpipe: how one GPU-mode operation's data moves: a CUDA IPC copy in its edge's batch, the
// edge's NCCL communicator, or UCX itself (GpuTransport::Ucx).
#include "gpu/device_request.hpp"

#include "gpu/channels.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/device_pipe.hpp"

#include <utility>

namespace ringpipe::gpu {

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

}  // namespace ringpipe::gpu
