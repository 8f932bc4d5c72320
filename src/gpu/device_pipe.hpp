// ringpipe: a ring edge between CUDA buffers: what its operations (device_request.hpp) share.
// The sender's exported allocations and IPC events, the receiver's mappings of the
// neighbour's allocations and opened events, a pool of plain events, and the receiver's
// CopyBatcher.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/pipe_group.hpp>

#include "edge_counters.hpp"
#include "gpu/copy_batcher.hpp"
#include "gpu/device_messages.hpp"
#include "gpu/event_pool.hpp"
#include "gpu/gpu_mode.hpp"
#include "gpu/nccl_comm.hpp"
#include "memory_kind.hpp"
#include "ucx/pipe.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ringpipe::gpu {

class Engine;

// How an edge moves its data (see make_edges).
struct EdgeSetup {
  bool copy_kernel = true;  // several copies may run as one kernel (Options::gpu_copy_kernel)
  bool ucx = false;         // the CUDA buffers go to UCX itself (GpuTransport::Ucx)
  std::shared_ptr<NcclComm> nccl;  // the NCCL path's communicator; nullptr on the others
};

class DevicePipe final : public PipeGroup {
 public:
  // `peer_gpu`: the UUID of the neighbour's GPU, from the rendezvous.
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
  // Plain events (a stream reached an operation, a transfer ended).
  [[nodiscard]] EventPool& events() noexcept { return events_; }
  // Receiver: the copies of this edge's receives.
  [[nodiscard]] CopyBatcher& copies() noexcept { return copies_; }
  // The CUDA messages of this edge, for Ring::stats().
  [[nodiscard]] detail::EdgeCounters& counters() noexcept { return counters_; }
  [[nodiscard]] const detail::EdgeCounters& counters() const noexcept { return counters_; }

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
  struct Mapping {
    char* base = nullptr;
    int users = 0;
    std::uint64_t last_use = 0;
  };

  // Throws InvalidArgument unless [data, data + bytes) is device memory of this rank's GPU.
  PointerInfo check_device_buffer(const char* operation, const std::string& edge, Tag tag,
                                  const void* data, std::size_t bytes) const;
  void evict_unused_mappings() noexcept;

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
  EventPool events_;
  CopyBatcher copies_;  // after events_, whose events it holds
  detail::EdgeCounters counters_;
};

}  // namespace ringpipe::gpu
