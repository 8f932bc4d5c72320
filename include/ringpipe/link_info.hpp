// ringpipe: how one ring edge really moves its data.
#pragma once

#include <ringpipe/export.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe {

// The way an edge's messages move.
enum class DataPath : std::uint8_t {
  Host,            // host memory over the link's transports (CPU mode; host_pred/host_succ)
  CudaIpc,         // CUDA buffers of processes on one host, copied through CUDA IPC
  CudaDeviceCopy,  // CUDA buffers of a ring of one, copied on the device
  Nccl,            // CUDA buffers over an NCCL pair communicator
  Ucx,             // CUDA buffers through UCX (GpuTransport::Ucx)
};

// "host", "cuda-ipc", "cuda device copy", "nccl", "ucx".
RINGPIPE_API std::string_view to_string(DataPath path) noexcept;

// Which host messages this rank sends on an edge move with one copy, made by the neighbour (see
// Options::single_copy); the others go through UCX.
struct SingleCopyPaths {
  bool registered = false;  // from a RegisteredBuffer, from registered_min_bytes on
  bool plain = false;       // from other memory, plain_min_bytes to plain_max_bytes (CMA)
  std::size_t registered_min_bytes = 0;
  std::size_t plain_min_bytes = 0;
  std::size_t plain_max_bytes = 0;
  std::string why_not;  // what the edge's probe found against a path ("" if nothing)
};

struct LinkInfo {
  int peer = 0;
  std::string peer_host;  // the neighbour's host name
  DataPath data_path = DataPath::Host;
  // The transports UCX chose for the link to the neighbour, e.g. {"sysv/memory", "cma/memory"}
  // or {"self"}: they carry host data, and in GPU mode the control messages beside the GPU
  // path. Empty once the link is closed.
  std::vector<std::string> transports;
  // Host edges only (CPU mode, and GPU mode's host_pred/host_succ).
  SingleCopyPaths single_copy;

  // One line for people: "host over ucx: sysv/memory, cma/memory; single copy: registered
  // from 64 KiB, other memory from 1 MiB to 8 MiB", or "cuda-ipc (control over ucx:
  // sysv/memory)".
  [[nodiscard]] RINGPIPE_API std::string describe() const;
};

}  // namespace ringpipe
