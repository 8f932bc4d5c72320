// ringpipe: the NCCL communicator of one ring edge (its two ranks, or one for a 1-rank ring),
// with the stream its transfers run on.
#pragma once

#include "deadline.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ringpipe::ucx {
class UcxPipe;
class Worker;
}  // namespace ringpipe::ucx

namespace ringpipe::gpu {

// Names the operation for an error message; called only on failure, so the per-message path
// builds no strings.
using Describe = std::function<std::string()>;

// Every NCCL call of GPU mode is made here; a build without NCCL's headers has a stand-in
// whose create_nccl_comms() reports the NCCL path unavailable.
class NcclComm {
 public:
  // In a 1-rank ring NCCL needs a send to self and its receive in one group, so the receiver
  // leaves its half here and the sender enqueues both.
  struct SelfReceive {
    void* buffer = nullptr;
    std::size_t bytes = 0;
    cudaEvent_t ready = nullptr;  // the receive's stream reached the receive
    cudaEvent_t done = nullptr;   // recorded after the receive
    bool* recorded = nullptr;     // set once `done` is recorded
  };

  // `comm`: an ncclComm_t of `nranks` ranks in which this process is `own_rank`.
  NcclComm(void* comm, cudaStream_t stream, int nranks, int own_rank, std::string name);
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ~NcclComm();

  [[nodiscard]] bool self_loop() const noexcept { return nranks_ == 1; }
  [[nodiscard]] bool aborted() const noexcept { return comm_ == nullptr; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  // Ends every operation of the communicator at once (peer failure, timeout). Idempotent.
  void abort() noexcept;

  // Enqueue on the communicator's stream, after `ready` (an event of the caller's stream), then
  // record `done`. They wait (bounded by `deadline`) until NCCL has enqueued the operation and
  // throw Error naming `what()` on failure.
  void enqueue_send(const void* data, std::size_t bytes, cudaEvent_t ready, cudaEvent_t done,
                    const Describe& what, const detail::Deadline& deadline);
  void enqueue_receive(void* data, std::size_t bytes, cudaEvent_t ready, cudaEvent_t done,
                       const Describe& what, const detail::Deadline& deadline);
  // 1-rank ring: the send and the oldest SelfReceive, in one group.
  void enqueue_self_pair(const void* data, std::size_t bytes, cudaEvent_t ready, cudaEvent_t done,
                         const Describe& what, const detail::Deadline& deadline);

  // Receives are enqueued in the order of these numbers, which the sender learns from the
  // reply, and sends are enqueued in the same order: NCCL matches point-to-point operations
  // between two ranks in order.
  [[nodiscard]] std::uint64_t take_receive_turn() noexcept { return next_receive_++; }
  [[nodiscard]] bool is_send_turn(std::uint64_t turn) const noexcept { return turn == next_send_; }
  void end_send_turn() noexcept { ++next_send_; }

  std::deque<SelfReceive>& self_receives() noexcept { return self_receives_; }

 private:
  // Makes `stream_` wait for `ready`, runs `enqueue` inside an NCCL group, waits until NCCL has
  // enqueued it, then records `done`.
  template <typename Enqueue>
  void run_group(cudaEvent_t ready, cudaEvent_t done, const Describe& what,
                 const detail::Deadline& deadline, Enqueue&& enqueue);
  int peer_rank() const noexcept { return nranks_ == 1 ? 0 : 1 - own_rank_; }

  void* comm_;  // ncclComm_t; nullptr once aborted
  cudaStream_t stream_;
  int nranks_;
  int own_rank_;
  std::string name_;
  std::uint64_t next_receive_ = 0;
  std::uint64_t next_send_ = 0;
  std::deque<SelfReceive> self_receives_;
};

// Creates the communicator of each edge in `hosts` (one UCX pipe per edge; a 1-rank ring's
// two pipes are one edge, pass one). The lower ring rank of an edge makes the NCCL unique id
// and sends it over the edge's host link; initialisation is non-blocking, under `deadline`,
// and aborted when it passes. Throws Error naming the edge.
std::vector<std::shared_ptr<NcclComm>> create_nccl_comms(ucx::Worker& worker,
                                                         const std::vector<ucx::UcxPipe*>& hosts,
                                                         const detail::Deadline& deadline);

}  // namespace ringpipe::gpu
