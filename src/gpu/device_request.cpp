// ringpipe: one GPU-mode operation: how it starts, the descriptor and reply it exchanges with
// its neighbour, and how it ends. The data's transfer is in device_request_transfer.cpp, the
// Request's waits in device_request_completion.cpp.
#include "gpu/device_request.hpp"

#include "gpu/channels.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/device_pipe.hpp"
#include "gpu/engine.hpp"
#include "log.hpp"

#include <utility>

namespace ringpipe::gpu {
namespace {

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
