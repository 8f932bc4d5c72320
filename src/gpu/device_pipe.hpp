// ringpipe: a ring edge between CUDA buffers. Its requests speak the protocol of
// device_messages.hpp over the edge's host link; the data moves by CUDA IPC (the receiver maps
// the sender's buffer and copies it on the GPU; a 1-rank ring copies in-process) or
// through the edge's NCCL communicator. The copies matched in one progress pass go to the edge's
// copy stream together: one wait per stream they depend on, one kernel for several of them
// (copy_kernel.hpp), one event marking their end, which one query per pass checks. Each CUDA
// call costs the host microseconds, about what the GPU needs to copy 16 MiB.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "deadline.hpp"
#include "gpu/copy_kernel.hpp"
#include "gpu/device_messages.hpp"
#include "gpu/driver.hpp"
#include "gpu/gpu_mode.hpp"
#include "gpu/nccl_comm.hpp"
#include "request_state.hpp"
#include "ucx/pipe.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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

  // A receive whose copy waits in its pipe's batch: what the batch needs to know.
  [[nodiscard]] void* destination() const noexcept { return buffer_; }
  [[nodiscard]] const char* copy_source() const noexcept { return copy_source_; }
  [[nodiscard]] std::size_t copy_bytes() const noexcept { return bytes_; }
  [[nodiscard]] cudaStream_t user_stream() const noexcept { return stream_; }
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
  // Maps the sender's buffer and puts the copy in the pipe's next batch.
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
  bool copy_queued_ = false;         // IPC: the copy waits in the pipe's batch
  bool copy_in_flight_ = false;      // IPC: enqueued; the pipe reports its end
  cudaError_t copy_status_ = cudaSuccess;
  bool transferred_ = false;            // the data moved (so `ready_` has been passed)
  bool through_ucx_ = false;            // GpuTransport::Ucx: UCX moves the CUDA buffer itself
  const char* copy_source_ = nullptr;   // IPC: the sender's data, mapped here
  cudaEvent_t source_ready_ = nullptr;  // IPC: the sender's stream reached the send
  std::uint64_t receive_order_ = 0;     // recv: posting order on its pipe
  bool waiting_turn_ = false;           // NCCL send: "go" received, waiting for its turn
  std::uint64_t turn_ = 0;
  bool released_ = false;  // its Request is gone
  bool dropped_ = false;   // recv: cancelled; a matching message is refused, not copied
  Descriptor descriptor_;
  Reply reply_;
  ucx::UcxRequest* message_ = nullptr;  // descriptor send (sender) or receive (receiver)
  ucx::UcxRequest* answer_ = nullptr;   // reply receive (sender) or send (receiver)
  std::optional<Error> error_;
  detail::Clock::time_point started_;
};

// How an edge moves its data (see make_edges).
struct EdgeSetup {
  bool copy_kernel = true;  // several copies may run as one kernel (Options::gpu_copy_kernel)
  bool ucx = false;         // the CUDA buffers go to UCX itself (GpuTransport::Ucx)
  std::shared_ptr<NcclComm> nccl;  // the NCCL path's communicator; nullptr on the others
};

class DevicePipe final : public PipeGroup {
 public:
  // `peer_gpu`: the UUID of the neighbour's GPU, from the rendezvous. `nccl`: the edge's
  // communicator on the NCCL path, nullptr on the CUDA IPC path.
  DevicePipe(Engine& engine, ucx::UcxPipe& host, const LocalDevice& device, std::string peer_gpu,
             EdgeSetup setup);
  ~DevicePipe() override;

  [[nodiscard]] int rank() const noexcept override { return host_.rank(); }
  [[nodiscard]] int peer() const noexcept override { return host_.peer(); }
  [[nodiscard]] std::string describe() const override;

  [[nodiscard]] ucx::UcxPipe& host() noexcept { return host_; }
  [[nodiscard]] bool same_process() const noexcept { return host_.peer() == host_.rank(); }
  [[nodiscard]] std::uint64_t next_sequence() noexcept { return ++sequence_; }
  [[nodiscard]] std::uint64_t next_receive_order() noexcept { return ++receive_order_; }
  [[nodiscard]] NcclComm* nccl() const noexcept { return nccl_.get(); }
  [[nodiscard]] bool through_ucx() const noexcept { return through_ucx_; }

  // Sender: the IPC handle of the allocation at `base` (cached per allocation).
  const cudaIpcMemHandle_t& export_memory(std::uint64_t buffer_id, std::uintptr_t base);
  // Sender: an event to record the data's readiness in; free again after the reply.
  int acquire_event_slot();
  void release_event_slot(int slot) noexcept;
  [[nodiscard]] cudaEvent_t event(int slot) const { return slots_[slot].event; }
  [[nodiscard]] const cudaIpcEventHandle_t& event_handle(int slot) const {
    return slots_[slot].handle;
  }

  // Receiver: where the sender's data is, in this process; takes a use of the mapping.
  char* map_source(const Descriptor& descriptor, std::uint64_t& key);
  void unmap_source(std::uint64_t key) noexcept;
  // Receiver: the sender's event, opened in this process.
  cudaEvent_t source_event(const Descriptor& descriptor);
  // Receiver: an event to mark the end of a copy.
  cudaEvent_t acquire_copy_event();
  void release_copy_event(cudaEvent_t event) noexcept;

  // Receiver: `request`'s copy joins the next batch; the engine flushes it at the end of the
  // progress pass.
  void queue_copy(DeviceRequest& request);
  // A finishing request leaves the batch.
  void unqueue_copy(DeviceRequest& request) noexcept;
  // Enqueues the batch on the edge's copy stream: after each receive's stream and each
  // sender's data (one event per stream suffices: a stream's events complete in order), the
  // copies, then one event for them all.
  void flush_copies() noexcept;
  // Tells the requests whose copies have ended, oldest first; a query per batch.
  void reap_copies() noexcept;
  // A request that finishes before its copy ended: the pipe keeps the copy's event alone.
  void forget_copy(DeviceRequest& request) noexcept;

 protected:
  [[nodiscard]] Request post_send(const void* data, std::size_t bytes, Tag tag,
                                  Stream stream) override;
  [[nodiscard]] Request post_recv(void* data, std::size_t capacity, Tag tag,
                                  Stream stream) override;

 private:
  struct EventSlot {
    cudaEvent_t event = nullptr;
    cudaIpcEventHandle_t handle{};
    bool busy = false;
  };
  struct CopyInFlight {
    DeviceRequest* request;  // nullptr once it finished without waiting for the copy
    cudaEvent_t done;        // shared by the copies of one batch
    bool owns_event;         // the batch's last copy returns the event to the pool
  };
  struct Mapping {
    char* base = nullptr;
    int users = 0;
    std::uint64_t last_use = 0;
  };

  // Throws InvalidArgument unless [data, data + bytes) is device memory of this rank's GPU.
  PointerInfo check_device_buffer(const char* operation, const std::string& edge, Tag tag,
                                  const void* data, std::size_t bytes) const;
  void evict_unused_mappings() noexcept;
  cudaStream_t copy_stream();
  // flush_copies()'s CUDA calls; throws Error.
  void enqueue_batch();
  // The batch's copies: several at once by one kernel, others by the copy engine.
  void enqueue_copies(cudaStream_t stream);

  Engine& engine_;
  ucx::UcxPipe& host_;
  int device_;
  std::shared_ptr<NcclComm> nccl_;
  bool through_ucx_;
  std::string description_;
  std::uint64_t sequence_ = 0;
  std::uint64_t receive_order_ = 0;
  std::unordered_map<std::uint64_t, cudaIpcMemHandle_t> exports_;
  std::vector<EventSlot> slots_;
  std::unordered_map<std::uint64_t, Mapping> mappings_;
  std::uint64_t use_clock_ = 0;
  std::unordered_map<std::uint32_t, cudaEvent_t> source_events_;
  std::vector<cudaEvent_t> copy_events_;  // free ones
  cudaStream_t copy_stream_ = nullptr;    // non-blocking: never waits for the legacy stream
  std::vector<DeviceRequest*> batch_;     // copies to enqueue at the end of this pass
  std::deque<CopyInFlight> in_flight_;    // enqueued copies, oldest first
  CopyList kernel_list_;
  bool kernel_works_;  // asked for, built, and (until a launch says otherwise) runnable
  int kernel_blocks_ = 1;
  // Reported at the end (RINGPIPE_LOG=info): how well copies were batched.
  std::uint64_t copies_ = 0;
  std::uint64_t batches_ = 0;
  std::size_t largest_batch_ = 0;
  std::uint64_t kernel_launches_ = 0;
};

}  // namespace ringpipe::gpu
