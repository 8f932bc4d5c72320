// ringpipe: one GPU-mode operation (isend or irecv on a DevicePipe), a state machine the
// Engine advances on every progress pass. It speaks the protocol of device_messages.hpp over
// the edge's host link; the data moves by CUDA IPC (the receiver maps the sender's buffer and
// its copy joins the edge's CopyBatcher), through the edge's NCCL communicator, or through UCX
// itself (GpuTransport::Ucx).
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "deadline.hpp"
#include "edge_counters.hpp"
#include "gpu/device_messages.hpp"
#include "gpu/nccl_comm.hpp"
#include "memory_kind.hpp"
#include "request_state.hpp"
#include "ucx/request.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ringpipe::gpu {

class Engine;
class DevicePipe;

class DeviceRequest final : public detail::RequestState {
 public:
  enum class Kind { Send, Recv };
  enum class Stage {
    Posted,    // send: descriptor out, reply awaited; recv: descriptor awaited
    Copying,   // the data's transfer is enqueued on a stream (IPC: recv only)
    Replying,  // recv: the reply is on its way
    Done,
  };

  explicit DeviceRequest(Engine& engine) : engine_(&engine) {}

  void start_send(DevicePipe& pipe, const void* data, std::size_t bytes, Tag tag,
                  cudaStream_t stream, const PointerInfo& source);
  void start_recv(DevicePipe& pipe, void* data, std::size_t capacity, Tag tag, cudaStream_t stream);

  bool test() override;
  void wait(std::optional<std::chrono::milliseconds> timeout) override;
  bool wait_for(std::chrono::milliseconds timeout) override;
  [[nodiscard]] std::size_t bytes() const noexcept override { return bytes_; }
  void release() noexcept override;

  // One step if one is possible; true if it did something.
  bool advance() noexcept;
  [[nodiscard]] bool settled() const noexcept { return stage_ == Stage::Done; }
  // Device work in flight, or a send waiting for its NCCL turn: no UCX event will announce
  // progress, so waiting must poll.
  [[nodiscard]] bool copying() const noexcept {
    return stage_ == Stage::Copying || waiting_turn_ || (through_ucx_ && stage_ == Stage::Posted);
  }
  [[nodiscard]] bool released() const noexcept { return released_; }
  [[nodiscard]] const DevicePipe* pipe() const noexcept { return pipe_; }
  // The Ring is closing: drop the transport; the Request reports Closed unless it completed.
  void detach() noexcept;

  // A receive whose copy waits in its edge's batch: what the batch needs to know.
  [[nodiscard]] void* destination() const noexcept { return buffer_; }
  [[nodiscard]] const char* copy_source() const noexcept { return copy_source_; }
  [[nodiscard]] std::size_t copy_bytes() const noexcept { return bytes_; }
  // The receive's stream (see stream_identity in device_request.cpp); nullopt if unknown.
  [[nodiscard]] std::optional<std::uint64_t> user_stream_id() const noexcept { return stream_id_; }
  [[nodiscard]] cudaEvent_t user_ready() const noexcept { return ready_; }
  [[nodiscard]] std::uint64_t receive_order() const noexcept { return receive_order_; }
  [[nodiscard]] cudaEvent_t source_ready() const noexcept { return source_ready_; }
  [[nodiscard]] const Descriptor& descriptor() const noexcept { return descriptor_; }
  // The batch holding its copy was enqueued, or could not be; the copy ended with `status`.
  void copy_enqueued() noexcept;
  void copy_failed(const Error& error) noexcept;
  void copy_landed(cudaError_t status) noexcept;
  // Clears per-operation state for reuse.
  void reset() noexcept;

 private:
  bool advance_send();
  bool advance_recv();
  // GpuTransport::Ucx: waits for the stream, then the UCX request does the rest.
  bool advance_through_ucx();
  void record_ready(cudaStream_t stream, const char* operation);
  // Maps the sender's buffer and puts the copy in the edge's next batch.
  void queue_copy();
  void start_nccl_receive();
  void enqueue_nccl_send();
  // The Copying stage: true once the transfer has finished (or failed).
  bool advance_transfer();
  bool advance_nccl_transfer();
  // Posts the reply; false if the edge has failed (then the request is finished).
  bool post_reply(ReplyStatus status, std::uint64_t turn = 0);
  void send_reply(ReplyStatus status);
  void finish(std::optional<Error> error) noexcept;
  // Forgets the events, slot, mapping and copy of the transfer (finish() returned them first).
  void drop_transfer_state() noexcept;
  // Progresses until done, then drops a receive that has not matched; false on deadline.
  bool finish_by(const detail::Deadline& deadline);
  // The request gave up (timeout, drop): the neighbour learns it by the edge's failure.
  void fail_edge(const Error& error) noexcept;
  void release_messages() noexcept;
  [[noreturn]] void throw_failure() const;
  // An error of one of the host messages, restated for this operation.
  [[nodiscard]] Error in_context(const Error& message_error) const;
  [[nodiscard]] std::string describe_operation() const;
  // describe_operation(), called only when a message is needed (a failure).
  [[nodiscard]] Describe describer() const {
    return [this] { return describe_operation(); };
  }

  Engine* engine_;  // nullptr once detached
  DevicePipe* pipe_ = nullptr;
  Kind kind_ = Kind::Send;
  Stage stage_ = Stage::Done;
  Tag tag_ = 0;
  std::size_t size_ = 0;   // bytes to send, or receive capacity
  std::size_t bytes_ = 0;  // bytes transferred
  void* buffer_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::uint64_t mapping_key_ = 0;  // the receiver's mapping in use by the copy
  bool holds_mapping_ = false;
  int event_slot_ = -1;              // sender: its IPC event
  cudaEvent_t copy_done_ = nullptr;  // recorded after the transfer
  cudaEvent_t ready_ = nullptr;      // recv, NCCL send: the user's stream reached the operation
  bool recorded_ = true;             // NCCL, 1-rank ring: copy_done_ has been recorded
  bool copy_queued_ = false;         // IPC: the copy waits in the edge's batch
  bool copy_in_flight_ = false;      // IPC: enqueued; the batcher reports its end
  cudaError_t copy_status_ = cudaSuccess;
  bool transferred_ = false;                // the data moved (so `ready_` has been passed)
  bool through_ucx_ = false;                // GpuTransport::Ucx: UCX moves the CUDA buffer itself
  const char* copy_source_ = nullptr;       // IPC: the sender's data, mapped here
  cudaEvent_t source_ready_ = nullptr;      // IPC: the sender's stream reached the send
  std::uint64_t receive_order_ = 0;         // recv: posting order on its pipe
  std::optional<std::uint64_t> stream_id_;  // recv: its stream, to group waits by
  bool waiting_turn_ = false;               // NCCL send: "go" received, waiting for its turn
  std::uint64_t turn_ = 0;
  bool released_ = false;  // its Request is gone
  bool dropped_ = false;   // recv: cancelled; a matching message is refused, not copied
  Descriptor descriptor_;
  Reply reply_;
  ucx::UcxRequest* message_ = nullptr;  // descriptor send (sender) or receive (receiver)
  ucx::UcxRequest* answer_ = nullptr;   // reply receive (sender) or send (receiver)
  std::optional<Error> error_;
  detail::Clock::time_point started_;
  detail::OperationMeter meter_;
};

}  // namespace ringpipe::gpu
