// ringpipe: how a rank finds and joins its ring.
#pragma once

#include <ringpipe/export.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringpipe {

// Waits without a deadline. Pass it explicitly; no other value means "forever".
inline constexpr std::chrono::milliseconds kInfinite = std::chrono::milliseconds::max();

// Where the ring moves data: host memory over UCX, or CUDA memory over CUDA IPC / NCCL.
enum class CommDevice { Cpu, Gpu };

// How GPU mode moves data over an edge. Auto takes the fast path where it exists: ringpipe's
// CUDA IPC between processes of one host, an NCCL communicator of the edge's two ranks
// otherwise. Ucx hands the CUDA buffers to UCX itself (cuda_ipc, cuda_copy, or whatever the
// loaded UCX was built with); it needs a UCX with CUDA support.
enum class GpuTransport { Auto, CudaIpc, Nccl, Ucx };

// How a rank waits for the network.
enum class ProgressMode {
  BusyPoll,  // spin on the transport: lowest latency, one full core per waiting rank
  Blocking,  // sleep on the transport's event fd: no CPU while idle, a wake-up per message
  Adaptive,  // spin briefly, then sleep: near busy-poll latency, near-zero idle CPU
};

// "cpu"/"gpu", "busy"/"blocking"/"adaptive".
RINGPIPE_API std::string_view to_string(CommDevice device) noexcept;
RINGPIPE_API std::string_view to_string(ProgressMode mode) noexcept;
// "auto"/"ipc"/"nccl"/"ucx".
RINGPIPE_API std::string_view to_string(GpuTransport transport) noexcept;
// Parse the names above; anything else throws Error{InvalidArgument} naming `what` and the text.
RINGPIPE_API CommDevice parse_comm_device(std::string_view text, std::string_view what);
RINGPIPE_API ProgressMode parse_progress_mode(std::string_view text, std::string_view what);
RINGPIPE_API GpuTransport parse_gpu_transport(std::string_view text, std::string_view what);

// The shortest liveness timeout: the liveness thread beats several times per timeout, and not
// more often than every 10 ms.
inline constexpr std::chrono::milliseconds kMinLivenessTimeout{100};

// Everything a rank needs to join a ring. Defaults suit one host; from_env() fills it the way
// launchers (ringpipe-run, torchrun, Open MPI, Slurm) describe a job.
struct RINGPIPE_API Options {
  std::string head = "127.0.0.1";  // rank 0's address (name or IP): it hosts the rendezvous
  std::uint16_t port = 0;          // rendezvous port; 0 lets rank 0 pick a free one
  // Where `port` came from, named when rank 0 cannot bind it ("" = the program set it).
  std::string port_origin;
  // A socket rank 0 already listens on (-1 = none). Launchers bind port 0 themselves, publish
  // the port to every rank and hand this socket to rank 0, so no port is ever guessed. It
  // stays open (ringpipe uses a duplicate), so later rings of the process can use it again.
  int listen_fd = -1;
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;  // rank among the processes of this host; selects the GPU in GPU mode
  CommDevice comm_device = CommDevice::Cpu;

  std::chrono::milliseconds rendezvous_timeout{std::chrono::seconds(60)};
  // Default deadline of send/recv/wait calls that are given none.
  std::chrono::milliseconds op_timeout{std::chrono::seconds(300)};
  // A neighbour that shows no sign of life for this long (a stopped process, a hung host, a cut
  // link) is reported as Errc::Stalled. Each rank's liveness thread sends beats several times
  // per timeout, whether or not the application calls into ringpipe, so a busy or slow rank is
  // never taken for a stalled one. A neighbour whose process ends is reported at once
  // (Errc::PeerFailed). At least kMinLivenessTimeout; kInfinite turns stall detection off.
  std::chrono::milliseconds liveness_timeout{std::chrono::seconds(30)};
  ProgressMode progress = ProgressMode::Adaptive;

  // GPU mode only. An edge that cannot take the transport asked for (or, with Auto, the fast
  // path when require_fast_path is set) fails the Ring's construction with Error{Unsupported}
  // saying why, instead of silently taking a slower path.
  GpuTransport gpu_transport = GpuTransport::Auto;
  bool require_fast_path = false;
  // GPU mode, CUDA IPC path: several messages matched together are copied by one kernel (one
  // launch instead of one copy call each), which uses the GPU's SMs for the copy; false leaves
  // every copy to the copy engine.
  bool gpu_copy_kernel = true;

  // Host messages to a neighbour on the same host move with one copy, made by the receiver:
  // from a RegisteredBuffer (Ring::allocate) at or above registered_min_bytes, with a memcpy
  // from its mapping; from other memory from single_copy_min_bytes to single_copy_max_bytes,
  // with process_vm_readv (larger ones stream faster through UCX's pipelined two copies, which
  // keep both processes copying). Smaller messages, other hosts, and neighbours the system does not
  // let this rank read (another user, ptrace restrictions, containers) keep UCX's path (two copies
  // over shared memory). Each edge finds out once, as the Ring forms; Ring::link_info says
  // what it found and why. false: UCX's path always (both ends of an edge must agree, so one
  // rank's false turns single copy off on both of its edges).
  bool single_copy = true;
  std::size_t registered_min_bytes = std::size_t{64} << 10;
  std::size_t single_copy_min_bytes = std::size_t{1} << 20;
  std::size_t single_copy_max_bytes = std::size_t{8} << 20;

  // Network interfaces for data and to advertise ("" = any), in NCCL_SOCKET_IFNAME's forms:
  // "eth,ib" (name prefixes), "^docker,lo" (all but these), "=eth0" (exact names); an entry
  // with ':' is a UCX device ("mlx5_0:1"). A spec that selects nothing here fails Ring start.
  std::string ifname;
  std::uint64_t job_id = 0;  // ranks of different jobs never join one ring
  // Shared secret of the job's ranks ("" = none). When set, every rank and the head prove to
  // each other that they know it before any address is exchanged, so all ranks, rank 0
  // included, need the same one. ringpipe-run makes one per job. Never printed or logged.
  std::string token;

  // Reads the environment (see README "Environment"). For each field the first variable set
  // wins: RINGPIPE_* , then torchrun's, then Open MPI's, then Slurm's; unset fields keep the
  // defaults above. The port is RINGPIPE_PORT, else MASTER_PORT + 1 (MASTER_PORT itself is
  // torch.distributed's). A malformed or out-of-range value throws Error{InvalidArgument}
  // naming the variable and its value.
  static Options from_env();

  // Throws Error{InvalidArgument} naming the first inconsistent field.
  void validate() const;
};

}  // namespace ringpipe
