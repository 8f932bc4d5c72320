// ringpipe: what the Ring needs from GPU mode, without CUDA's headers.
#pragma once

#include <ringpipe/link_info.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/pipe_group.hpp>

#include "deadline.hpp"

#include <memory>
#include <string>

namespace ringpipe::detail {
class EdgeCounters;
}  // namespace ringpipe::detail

namespace ringpipe::ucx {
class UcxPipe;
class Worker;
}  // namespace ringpipe::ucx

namespace ringpipe::gpu {

// The CUDA device a rank uses.
struct LocalDevice {
  int ordinal = -1;
  std::string uuid;  // "GPU-…" as nvidia-smi prints it: names the physical GPU
  std::string name;  // e.g. "NVIDIA H100 80GB HBM3"
};

// Selects device `options.local_rank` for this thread. Throws Error{Unsupported} saying why no
// GPU can be used (no GPU support built in, no driver, no device) and Error{InvalidArgument}
// naming both numbers when the local rank has no device.
LocalDevice open_device(const Options& options);

// What a rank knows of the neighbour at the far end of an edge, from the rendezvous.
struct EdgePeer {
  int rank = 0;
  bool same_host = false;
  std::string gpu_uuid;
};

// The two GPU edges of a ring, built over the host links (the UCX pipes), which carry their
// control messages.
class GpuEdges {
 public:
  virtual ~GpuEdges() = default;
  [[nodiscard]] virtual PipeGroup& pred() noexcept = 0;
  [[nodiscard]] virtual PipeGroup& succ() noexcept = 0;
  // The data path of `edge` (pred() or succ()).
  [[nodiscard]] virtual DataPath path(const PipeGroup& edge) const = 0;
  // The counters of `edge`'s CUDA messages (pred() or succ()).
  [[nodiscard]] virtual const detail::EdgeCounters& counters(const PipeGroup& edge) const = 0;
};

// Chooses each edge's path (see Options::gpu_transport) and agrees on it with the neighbour
// before `deadline`. `ucx_cuda`: the loaded UCX handles CUDA memory (GpuTransport::Ucx needs
// it). Throws Error{Unsupported} when an edge has no usable path.
std::unique_ptr<GpuEdges> make_edges(ucx::Worker& worker, ucx::UcxPipe& pred, ucx::UcxPipe& succ,
                                     const EdgePeer& pred_peer, const EdgePeer& succ_peer,
                                     const Options& options, const LocalDevice& device,
                                     bool ucx_cuda, const detail::Deadline& deadline);

}  // namespace ringpipe::gpu
