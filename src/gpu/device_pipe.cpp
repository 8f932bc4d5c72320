// ringpipe: a ring edge between CUDA buffers moved by CUDA IPC.
#include "gpu/device_pipe.hpp"

#include "gpu/copy_kernel.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/device_scope.hpp"
#include "gpu/engine.hpp"
#include "log.hpp"

#include <algorithm>
#include <utility>

namespace ringpipe::gpu {
namespace {

// How long a cancelled or abandoned operation may take to settle before its edge is failed.
constexpr auto kSettleTimeout = std::chrono::milliseconds(2000);
// Mapped allocations of a neighbour kept open; a serving stack reuses a few buffers, so this
// is never reached in steady state, and it bounds what a changing set of buffers costs.
constexpr std::size_t kMaxMappings = 256;
constexpr std::size_t kMaxExports = 1024;
// Messages copied by the copy kernel (when several are matched together): 16-byte aligned and
// not larger than this. A larger copy takes long enough to hide the per-call cost, and there
// the copy engine is faster (64 MiB on an H200: 37.7 us per message streamed by the engine,
// 39.3 us by the kernel) and leaves the SMs to the application.
constexpr std::uintptr_t kKernelAlignment = 16;
constexpr std::size_t kKernelMaxBytes = std::size_t{32} << 20;
// Enough blocks to keep the memory busy, few enough to leave room beside the application's.
constexpr int kKernelBlocksPerProcessor = 2;
// Stands for the legacy default stream in a Descriptor (CUDA numbers streams from 0 up).
constexpr std::uint64_t kLegacyStreamId = ~std::uint64_t{0};

}  // namespace

// ---- DeviceRequest ------------------------------------------------------------------------------

void DeviceRequest::reset() noexcept {
  pipe_ = nullptr;
  stage_ = Stage::Done;
  bytes_ = 0;
  released_ = false;
  dropped_ = false;
  error_.reset();
  message_ = answer_ = nullptr;
  holds_mapping_ = false;
  event_slot_ = -1;
  copy_done_ = nullptr;
  ready_ = nullptr;
  recorded_ = true;
  waiting_turn_ = false;
  copy_queued_ = false;
  copy_in_flight_ = false;
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
      ready_ = pipe.acquire_copy_event();
      if (const cudaError_t status = cudaEventRecord(ready_, stream); status != cudaSuccess) {
        fail(status, describe_operation() + ": cannot record the send on its stream");
      }
    } else if (bytes != 0) {
      event_slot_ = pipe.acquire_event_slot();
      if (const cudaError_t status = cudaEventRecord(pipe.event(event_slot_), stream);
          status != cudaSuccess) {
        fail(status, describe_operation() + ": cannot record the send on its stream");
      }
      unsigned long long stream_id = 0;
      if (stream == nullptr) {
        descriptor_.stream_known = 1;  // the legacy default stream: one per device
        descriptor_.stream_id = kLegacyStreamId;
      } else if (cudaStreamGetId(stream, &stream_id) == cudaSuccess) {
        descriptor_.stream_known = 1;
        descriptor_.stream_id = stream_id;
      } else {
        (void)cudaGetLastError();
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
    answer_ = pipe.host().post_channel_recv(
        ucx::Channel::GpuReply, static_cast<Tag>(descriptor_.sequence), &reply_, sizeof reply_);
    message_ = pipe.host().post_channel_send(ucx::Channel::GpuDescriptor, tag, &descriptor_,
                                             sizeof descriptor_);
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
  stage_ = Stage::Posted;
  receive_order_ = pipe.next_receive_order();
  through_ucx_ = pipe.through_ucx();
  // The data lands from another stream (the edge's copy stream, NCCL's, UCX's): not before the
  // work enqueued before this call.
  if (capacity != 0 || through_ucx_) record_ready(stream, "receive");
  if (!through_ucx_) {
    message_ = pipe.host().post_channel_recv(ucx::Channel::GpuDescriptor, tag, &descriptor_,
                                             sizeof descriptor_);
  }
  engine_->track(this);
}

void DeviceRequest::record_ready(cudaStream_t stream, const char* operation) {
  ready_ = pipe_->acquire_copy_event();
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
  switch (reply_.status) {
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
    default:
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
        log(detail::LogLevel::Error, error.what());
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
                   ? host.post_channel_send(ucx::Channel::GpuDescriptor, tag_, buffer_, size_)
                   : host.post_channel_recv(ucx::Channel::GpuDescriptor, tag_, buffer_, size_);
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
  if (copy_queued_ || copy_in_flight_) return false;  // the pipe reports the copy's end
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
  pipe_->release_copy_event(std::exchange(copy_done_, nullptr));
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
  copy_done_ = pipe_->acquire_copy_event();
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
  copy_done_ = pipe_->acquire_copy_event();
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
  pipe_->queue_copy(*this);
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
    answer_ = pipe_->host().post_channel_send(
        ucx::Channel::GpuReply, static_cast<Tag>(descriptor_.sequence), &reply_, sizeof reply_);
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
    if (copy_queued_) pipe_->unqueue_copy(*this);
    // A copy still running is left to the pipe, which keeps its event until it ends.
    if (copy_in_flight_) pipe_->forget_copy(*this);
    if (event_slot_ >= 0) pipe_->release_event_slot(event_slot_);
    // The transfer waited for `ready_`: once it is over, so is `ready_`. An event still in use
    // by an abandoned transfer is dropped rather than reused.
    if (ready_ != nullptr &&
        (transferred_ || (recorded_ && cudaEventQuery(ready_) == cudaSuccess))) {
      pipe_->release_copy_event(ready_);
    }
    if (copy_done_ != nullptr && recorded_ && cudaEventQuery(copy_done_) == cudaSuccess) {
      pipe_->release_copy_event(copy_done_);
    }
    if (holds_mapping_) pipe_->unmap_source(mapping_key_);
  }
  event_slot_ = -1;
  copy_done_ = nullptr;
  ready_ = nullptr;
  recorded_ = true;
  waiting_turn_ = false;
  copy_queued_ = false;
  copy_in_flight_ = false;
  holds_mapping_ = false;
  error_ = std::move(error);
  stage_ = Stage::Done;
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

void DeviceRequest::release() noexcept {
  if (engine_ == nullptr) {
    delete this;  // detached from a Ring that is gone
    return;
  }
  if (stage_ != Stage::Done) {
    try {
      if (kind_ == Kind::Send) {
        // As in CPU mode: the receiver gets the operation timeout to take the data.
        if (!finish_by(detail::Deadline(pipe_->host().op_timeout()))) {
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
      log(detail::LogLevel::Error, error.what());
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
    while (copy_in_flight_ && !deadline.expired()) pipe_->reap_copies();
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

// ---- DevicePipe ---------------------------------------------------------------------------------

DevicePipe::DevicePipe(Engine& engine, ucx::UcxPipe& host, const LocalDevice& device,
                       std::string peer_gpu, EdgeSetup setup)
    : engine_(engine),
      host_(host),
      device_(device.ordinal),
      nccl_(std::move(setup.nccl)),
      through_ucx_(setup.ucx),
      kernel_works_(setup.copy_kernel && copy_kernel_available()) {
  const std::string gpus =
      peer_gpu == device.uuid ? "both on " + device.uuid : device.uuid + " -> " + peer_gpu;
  if (nccl_ != nullptr) {
    description_ = host_.name(true) + " (nccl, " + gpus + ")";
  } else if (through_ucx_) {
    description_ = host_.name(true) + " (ucx: " + host_.endpoint().transports() + ", " + gpus + ")";
  } else if (same_process()) {
    description_ = host_.name(true) + " (cuda device copy on " + device.uuid + ")";
  } else {
    description_ = host_.name(true) + " (cuda-ipc, " + gpus + ")";
  }
  engine_.add_pipe(this);
}

DevicePipe::~DevicePipe() {
  if (batches_ != 0) {
    log(detail::LogLevel::Info, "recv on " + host_.name(false) + ": " + std::to_string(copies_) +
                                    " copies in " + std::to_string(batches_) +
                                    " batches, the largest of " + std::to_string(largest_batch_) +
                                    "; " + std::to_string(kernel_launches_) + " copy kernels");
  }
  // Requests are detached by the engine before this; nothing uses these resources any more.
  const DeviceScope scope(device_);
  for (auto& [key, mapping] : mappings_) (void)cudaIpcCloseMemHandle(mapping.base);
  for (auto& [slot, event] : source_events_) (void)cudaEventDestroy(event);
  for (cudaEvent_t event : copy_events_) (void)cudaEventDestroy(event);
  for (EventSlot& slot : slots_) (void)cudaEventDestroy(slot.event);
  for (const CopyInFlight& copy : in_flight_) {
    if (copy.owns_event) (void)cudaEventDestroy(copy.done);
  }
  if (copy_stream_ != nullptr) (void)cudaStreamDestroy(copy_stream_);
  (void)cudaGetLastError();
}

std::string DevicePipe::describe() const { return description_; }

PointerInfo DevicePipe::check_device_buffer(const char* operation, const std::string& edge, Tag tag,
                                            const void* data, std::size_t bytes) const {
  const auto fail = [&](const std::string& why) {
    throw Error(Errc::InvalidArgument, std::string(operation) + " on " + edge + " tag " +
                                           std::to_string(tag) + ": " + why);
  };
  if (bytes == 0) return PointerInfo{};
  if (data == nullptr) fail("null buffer of " + std::to_string(bytes) + " bytes");
  const std::optional<PointerInfo> info = query_pointer(data, /*initialise=*/true);
  if (!info || (!info->device && !info->managed)) {
    fail("the buffer is host memory, but this ring is in GPU mode (CUDA device memory only)");
  }
  if (info->managed) {
    fail("the buffer is CUDA managed memory, which CUDA IPC cannot share (use cudaMalloc)");
  }
  if (info->ordinal != device_) {
    fail("the buffer is memory of CUDA device " + std::to_string(info->ordinal) +
         ", but this rank uses device " + std::to_string(device_));
  }
  const auto address = reinterpret_cast<std::uintptr_t>(data);
  const std::size_t offset = address - info->base;
  if (offset > info->range || bytes > info->range - offset) {
    fail(std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
         " overrun the allocation of " + std::to_string(info->range) + " bytes");
  }
  return *info;
}

Request DevicePipe::post_send(const void* data, std::size_t bytes, Tag tag, Stream stream) {
  host_.check_sendable("isend", tag, bytes);
  const DeviceScope scope(device_);
  const PointerInfo source = check_device_buffer("isend", host_.name(true), tag, data, bytes);
  DeviceRequest* request = engine_.acquire();
  try {
    request->start_send(*this, data, bytes, tag, static_cast<cudaStream_t>(stream.cuda_stream),
                        source);
  } catch (...) {
    engine_.recycle(request);
    throw;
  }
  return detail::make_request(request);
}

Request DevicePipe::post_recv(void* data, std::size_t capacity, Tag tag, Stream stream) {
  const DeviceScope scope(device_);
  (void)check_device_buffer("irecv", host_.name(false), tag, data, capacity);
  DeviceRequest* request = engine_.acquire();
  try {
    request->start_recv(*this, data, capacity, tag, static_cast<cudaStream_t>(stream.cuda_stream));
  } catch (...) {
    engine_.recycle(request);
    throw;
  }
  return detail::make_request(request);
}

const cudaIpcMemHandle_t& DevicePipe::export_memory(std::uint64_t buffer_id, std::uintptr_t base) {
  if (auto found = exports_.find(buffer_id); found != exports_.end()) return found->second;
  if (exports_.size() >= kMaxExports) exports_.clear();
  cudaIpcMemHandle_t handle{};
  check(cudaIpcGetMemHandle(&handle, reinterpret_cast<void*>(base)),
        "isend on " + host_.name(true) +
            ": the buffer's allocation cannot be shared by CUDA IPC (memory from cudaMalloc can; "
            "virtual-memory-managed allocations cannot)",
        Errc::InvalidArgument);
  return exports_.emplace(buffer_id, handle).first->second;
}

int DevicePipe::acquire_event_slot() {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].busy) {
      slots_[i].busy = true;
      return static_cast<int>(i);
    }
  }
  EventSlot slot;
  // Interprocess events cost ~1.5 us more to record and to wait on (H200): only when shared.
  const unsigned flags =
      cudaEventDisableTiming | (same_process() ? 0u : static_cast<unsigned>(cudaEventInterprocess));
  check(cudaEventCreateWithFlags(&slot.event, flags), "cannot create a CUDA event");
  if (!same_process()) {
    const cudaError_t status = cudaIpcGetEventHandle(&slot.handle, slot.event);
    if (status != cudaSuccess) {
      (void)cudaEventDestroy(slot.event);
      fail(status, "cannot share a CUDA event by IPC");
    }
  }
  slot.busy = true;
  slots_.push_back(slot);
  return static_cast<int>(slots_.size() - 1);
}

void DevicePipe::release_event_slot(int slot) noexcept { slots_[slot].busy = false; }

char* DevicePipe::map_source(const Descriptor& descriptor, std::uint64_t& key) {
  key = descriptor.buffer_id;
  auto found = mappings_.find(key);
  if (found == mappings_.end()) {
    if (mappings_.size() >= kMaxMappings) evict_unused_mappings();
    void* base = nullptr;
    check(cudaIpcOpenMemHandle(&base, descriptor.memory, cudaIpcMemLazyEnablePeerAccess),
          "recv on " + host_.name(false) + ": cannot open the CUDA IPC handle of rank " +
              std::to_string(peer()) + "'s buffer");
    found = mappings_.emplace(key, Mapping{static_cast<char*>(base), 0, 0}).first;
  }
  ++found->second.users;
  found->second.last_use = ++use_clock_;
  return found->second.base;
}

void DevicePipe::unmap_source(std::uint64_t key) noexcept {
  if (auto found = mappings_.find(key); found != mappings_.end()) --found->second.users;
}

void DevicePipe::evict_unused_mappings() noexcept {
  // Drops the older half of the unused mappings.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> unused;  // (last use, key)
  for (const auto& [key, mapping] : mappings_) {
    if (mapping.users == 0) unused.emplace_back(mapping.last_use, key);
  }
  std::sort(unused.begin(), unused.end());
  for (std::size_t i = 0; i < unused.size() / 2 + 1 && i < unused.size(); ++i) {
    auto found = mappings_.find(unused[i].second);
    (void)cudaIpcCloseMemHandle(found->second.base);
    mappings_.erase(found);
  }
  (void)cudaGetLastError();
}

cudaEvent_t DevicePipe::source_event(const Descriptor& descriptor) {
  if (auto found = source_events_.find(descriptor.event_slot); found != source_events_.end()) {
    return found->second;
  }
  cudaEvent_t event = nullptr;
  check(cudaIpcOpenEventHandle(&event, descriptor.event),
        "recv on " + host_.name(false) + ": cannot open the CUDA IPC event of rank " +
            std::to_string(peer()));
  source_events_.emplace(descriptor.event_slot, event);
  return event;
}

cudaEvent_t DevicePipe::acquire_copy_event() {
  if (!copy_events_.empty()) {
    cudaEvent_t event = copy_events_.back();
    copy_events_.pop_back();
    return event;
  }
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cannot create a CUDA event");
  return event;
}

void DevicePipe::release_copy_event(cudaEvent_t event) noexcept {
  try {
    copy_events_.push_back(event);
  } catch (...) {
    (void)cudaEventDestroy(event);
  }
}

void DevicePipe::queue_copy(DeviceRequest& request) {
  if (batch_.empty()) engine_.flush_at_end_of_pass(this);
  batch_.push_back(&request);
}

void DevicePipe::unqueue_copy(DeviceRequest& request) noexcept { std::erase(batch_, &request); }

void DevicePipe::flush_copies() noexcept {
  if (batch_.empty()) return;
  try {
    enqueue_batch();
  } catch (const Error& error) {
    log(detail::LogLevel::Error, error.what());
    // Those already enqueued ignore it.
    for (DeviceRequest* request : std::exchange(batch_, {})) request->copy_failed(error);
  } catch (const std::exception& error) {
    const Error failure(Errc::Internal, error.what());
    for (DeviceRequest* request : std::exchange(batch_, {})) request->copy_failed(failure);
  }
  batch_.clear();
}

cudaStream_t DevicePipe::copy_stream() {
  if (copy_stream_ == nullptr) {
    check(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking),
          "recv on " + host_.name(false) + ": cannot create the copy stream");
    int processors = 0;
    if (cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device_) !=
            cudaSuccess ||
        processors <= 0) {
      (void)cudaGetLastError();
      processors = 1;
    }
    kernel_blocks_ = kKernelBlocksPerProcessor * processors;
  }
  return copy_stream_;
}

void DevicePipe::enqueue_batch() {
  const cudaStream_t stream = copy_stream();
  // A batch holds the copies matched in one pass, a handful: scanning it beats any container.
  for (const DeviceRequest* request : batch_) {
    bool newest_of_its_stream = true;
    bool newest_of_sender_stream = request->descriptor().stream_known != 0;
    for (const DeviceRequest* other : batch_) {
      if (other->user_stream() == request->user_stream() &&
          other->receive_order() > request->receive_order()) {
        newest_of_its_stream = false;
      }
      if (newest_of_sender_stream && other->descriptor().stream_known != 0 &&
          other->descriptor().stream_id == request->descriptor().stream_id &&
          other->descriptor().sequence > request->descriptor().sequence) {
        newest_of_sender_stream = false;
      }
    }
    if (newest_of_its_stream) {
      if (const cudaError_t status = cudaStreamWaitEvent(stream, request->user_ready(), 0);
          status != cudaSuccess) {
        fail(status, "recv on " + host_.name(false) + ": cannot order a copy after its stream");
      }
    }
    // Without the sender's stream known, every message's own event.
    if (newest_of_sender_stream || request->descriptor().stream_known == 0) {
      if (const cudaError_t status = cudaStreamWaitEvent(stream, request->source_ready(), 0);
          status != cudaSuccess) {
        fail(status, "recv on " + host_.name(false) + ": cannot wait for rank " +
                         std::to_string(peer()) + "'s data");
      }
    }
  }
  enqueue_copies(stream);
  // One event marks the end of the whole batch: copies on one stream end in order.
  const cudaEvent_t done = acquire_copy_event();
  if (const cudaError_t status = cudaEventRecord(done, stream); status != cudaSuccess) {
    release_copy_event(done);
    fail(status, "recv on " + host_.name(false) + ": cannot record the copies' end");
  }
  copies_ += batch_.size();
  ++batches_;
  largest_batch_ = std::max(largest_batch_, batch_.size());
  for (DeviceRequest* request : batch_) {
    in_flight_.push_back(CopyInFlight{request, done, request == batch_.back()});
    request->copy_enqueued();
  }
}

void DevicePipe::enqueue_copies(cudaStream_t stream) {
  const auto start_failed = [&](cudaError_t status) {
    fail(status, "recv on " + host_.name(false) + ": cannot start the copy of " +
                     std::to_string(batch_.size()) + " message(s)");
  };
  const auto engine_copy = [&](const void* source, void* destination, std::size_t bytes) {
    if (const cudaError_t status =
            cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream);
        status != cudaSuccess) {
      start_failed(status);
    }
  };
  CopyList& list = kernel_list_;
  list.count = 0;
  for (const DeviceRequest* request : batch_) {
    const bool aligned = ((reinterpret_cast<std::uintptr_t>(request->copy_source()) |
                           reinterpret_cast<std::uintptr_t>(request->destination())) %
                          kKernelAlignment) == 0;
    if (kernel_works_ && batch_.size() > 1 && aligned && request->copy_bytes() <= kKernelMaxBytes &&
        list.count < CopyList::kCapacity) {
      list.segments[list.count++] = {request->copy_source(), request->destination(),
                                     request->copy_bytes()};
    } else {
      engine_copy(request->copy_source(), request->destination(), request->copy_bytes());
    }
  }
  if (list.count == 1) {
    engine_copy(list.segments[0].source, list.segments[0].destination, list.segments[0].bytes);
  } else if (list.count > 1) {
    const cudaError_t status = launch_copy_kernel(list, kernel_blocks_, stream);
    if (status == cudaSuccess) {
      ++kernel_launches_;
      return;
    }
    if (status != cudaErrorNoKernelImageForDevice && status != cudaErrorInvalidDeviceFunction &&
        status != cudaErrorNotSupported && status != cudaErrorUnsupportedPtxVersion) {
      start_failed(status);
    }
    // This GPU cannot run the kernel built here: the copy engine takes every copy.
    (void)cudaGetLastError();
    kernel_works_ = false;
    log(detail::LogLevel::Warning,
        gpu::describe(status, "recv on " + host_.name(false) +
                                  ": the copy kernel cannot run here; the copy engine copies "
                                  "every message"));
    for (int i = 0; i < list.count; ++i) {
      engine_copy(list.segments[i].source, list.segments[i].destination, list.segments[i].bytes);
    }
  }
}

void DevicePipe::reap_copies() noexcept {
  cudaEvent_t known_done = nullptr;  // entries of one batch share an event: one query
  while (!in_flight_.empty()) {
    CopyInFlight& copy = in_flight_.front();
    cudaError_t status = cudaSuccess;
    if (copy.done != known_done) {
      status = cudaEventQuery(copy.done);
      if (status == cudaErrorNotReady) return;
      if (status != cudaSuccess) (void)cudaGetLastError();
      known_done = status == cudaSuccess ? copy.done : nullptr;
    }
    if (copy.request != nullptr) copy.request->copy_landed(status);
    if (copy.owns_event) release_copy_event(copy.done);
    in_flight_.pop_front();
  }
}

void DevicePipe::forget_copy(DeviceRequest& request) noexcept {
  for (CopyInFlight& copy : in_flight_) {
    if (copy.request == &request) copy.request = nullptr;
  }
}

}  // namespace ringpipe::gpu
