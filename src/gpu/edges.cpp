// ringpipe: choosing each GPU edge's data path and agreeing on it with the neighbour.
#include <ringpipe/error.hpp>

#include "gpu/channels.hpp"
#include "gpu/device_pipe.hpp"
#include "gpu/engine.hpp"
#include "gpu/gpu_mode.hpp"
#include "gpu/nccl_comm.hpp"
#include "ucx/pipe.hpp"
#include "ucx/request.hpp"

#include <cstdlib>
#include <memory>
#include <vector>

namespace ringpipe::gpu {
namespace {

enum class Path : std::uint32_t { CudaIpc = 1, Nccl = 2, Ucx = 3 };

// Sent by each end of an edge to the other before the Ring is released.
struct SetupMessage {
  static constexpr std::uint32_t kMagic = 0x53475052;  // "RPGS"
  std::uint32_t magic = kMagic;
  Path path = Path::CudaIpc;
};

std::string edge_name(const ucx::UcxPipe& host) { return host.name(true); }

// Symmetric: both ends of an edge decide alike from what both know (the rendezvous records and
// options the launcher gives every rank); agree() catches options that differ.
Path choose_path(const ucx::UcxPipe& host, const EdgePeer& peer, const Options& options,
                 const LocalDevice& device, bool ucx_cuda) {
  const std::string edge = "GPU mode on " + edge_name(host) + ": ";
  const std::string who = "rank " + std::to_string(peer.rank);
  if (options.gpu_transport == GpuTransport::Ucx) {
    if (!ucx_cuda) {
      throw Error(Errc::Unsupported,
                  edge +
                      "the UCX transport was asked for, but the loaded UCX has no CUDA "
                      "support (`ucx_info -d` lists no cuda transport)");
    }
    return Path::Ucx;
  }
  if (peer.rank == options.rank) {
    return options.gpu_transport == GpuTransport::Nccl ? Path::Nccl : Path::CudaIpc;
  }
  Path path = peer.same_host ? Path::CudaIpc : Path::Nccl;
  if (options.gpu_transport == GpuTransport::CudaIpc && !peer.same_host) {
    throw Error(Errc::Unsupported,
                edge + "CUDA IPC was asked for, but " + who + " is on another host");
  }
  if (options.gpu_transport == GpuTransport::Nccl) path = Path::Nccl;
  if (path == Path::Nccl && options.gpu_transport == GpuTransport::Auto &&
      options.require_fast_path) {
    throw Error(Errc::Unsupported, edge + who +
                                       " is on another host, so CUDA IPC is impossible and the "
                                       "edge would take NCCL; require_fast_path forbids that");
  }
  if (path == Path::Nccl && peer.gpu_uuid == device.uuid) {
    throw Error(Errc::Unsupported, edge + "NCCL cannot join two ranks of one GPU, and " + who +
                                       " uses this rank's GPU too (" + device.uuid + ")");
  }
  return path;
}

// One end's half of the set-up of an edge: what it told the neighbour and what it heard.
struct Handshake {
  ucx::UcxPipe* host = nullptr;
  SetupMessage mine;
  SetupMessage theirs;
  ucx::UcxRequest* received = nullptr;
  ucx::UcxRequest* sent = nullptr;

  ~Handshake() {
    if (received != nullptr) received->release();
    if (sent != nullptr) sent->release();
  }
  [[nodiscard]] bool done() const { return received->done() && sent->done(); }
  void check(Path path) {
    const std::string edge =
        "GPU mode on " + edge_name(*host) + ": rank " + std::to_string(host->peer());
    for (ucx::UcxRequest* request : {received, sent}) {
      if (auto error = request->outcome()) throw *error;
    }
    if (received->bytes() != sizeof theirs || theirs.magic != SetupMessage::kMagic) {
      throw Error(Errc::ProtocolMismatch, edge + " sent a malformed set-up message");
    }
    if (theirs.path != path) {
      throw Error(Errc::ProtocolMismatch, edge + " chose another data path for this edge");
    }
  }
};

// Each end tells the other its choice; both must agree, or the Ring is not formed. Every rank
// posts all its messages before waiting, so no ring order can deadlock.
void agree(ucx::Worker& worker, ucx::UcxPipe& pred, Path pred_path, ucx::UcxPipe& succ,
           Path succ_path, const detail::Deadline& deadline) {
  Handshake handshakes[2];
  const std::pair<ucx::UcxPipe*, Path> edges[2] = {{&pred, pred_path}, {&succ, succ_path}};
  for (int i = 0; i < 2; ++i) {
    Handshake& h = handshakes[i];
    h.host = edges[i].first;
    h.mine.path = edges[i].second;
    h.received = h.host->post_control_recv(kSetupChannel, 0, &h.theirs, sizeof h.theirs);
  }
  for (Handshake& h : handshakes) {
    h.sent = h.host->post_control_send(kSetupChannel, 0, &h.mine, sizeof h.mine);
  }
  if (!worker.progress_until([&] { return handshakes[0].done() && handshakes[1].done(); },
                             deadline)) {
    for (const Handshake& h : handshakes) {
      if (!h.done()) {
        throw Error(Errc::Timeout, "GPU mode on " + edge_name(*h.host) + ": rank " +
                                       std::to_string(h.host->peer()) +
                                       " did not answer the GPU set-up in time");
      }
    }
  }
  for (int i = 0; i < 2; ++i) handshakes[i].check(edges[i].second);
}

class DeviceEdges final : public GpuEdges {
 public:
  DeviceEdges(ucx::Worker& worker, ucx::UcxPipe& pred, ucx::UcxPipe& succ,
              const std::string& pred_gpu, const std::string& succ_gpu, const LocalDevice& device,
              EdgeSetup pred_setup, EdgeSetup succ_setup)
      : engine_(std::make_unique<Engine>(worker, device.ordinal)),
        pred_(
            std::make_unique<DevicePipe>(*engine_, pred, device, pred_gpu, std::move(pred_setup))),
        succ_(std::make_unique<DevicePipe>(*engine_, succ, device, succ_gpu,
                                           std::move(succ_setup))) {}
  ~DeviceEdges() override {
    engine_.reset();  // detaches the requests before the pipes' resources go
  }

  PipeGroup& pred() noexcept override { return *pred_; }
  PipeGroup& succ() noexcept override { return *succ_; }
  DataPath path(const PipeGroup& edge) const override {
    const DevicePipe& pipe = &edge == pred_.get() ? *pred_ : *succ_;
    if (pipe.nccl() != nullptr) return DataPath::Nccl;
    if (pipe.through_ucx()) return DataPath::Ucx;
    return edge.peer() == edge.rank() ? DataPath::CudaDeviceCopy : DataPath::CudaIpc;
  }
  const detail::EdgeCounters& counters(const PipeGroup& edge) const override {
    return (&edge == pred_.get() ? *pred_ : *succ_).counters();
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<DevicePipe> pred_;
  std::unique_ptr<DevicePipe> succ_;
};

}  // namespace

std::unique_ptr<GpuEdges> make_edges(ucx::Worker& worker, ucx::UcxPipe& pred, ucx::UcxPipe& succ,
                                     const EdgePeer& pred_peer, const EdgePeer& succ_peer,
                                     const Options& options, const LocalDevice& device,
                                     bool ucx_cuda, const detail::Deadline& deadline) {
  const Path pred_path = choose_path(pred, pred_peer, options, device, ucx_cuda);
  const Path succ_path = choose_path(succ, succ_peer, options, device, ucx_cuda);
  agree(worker, pred, pred_path, succ, succ_path, deadline);
  // A 1-rank ring's two pipes are the two ends of one edge: one communicator.
  const bool one_edge = pred_peer.rank == options.rank;
  std::vector<ucx::UcxPipe*> nccl_edges;
  if (succ_path == Path::Nccl) nccl_edges.push_back(&succ);
  if (pred_path == Path::Nccl && !one_edge) nccl_edges.push_back(&pred);
  std::shared_ptr<NcclComm> pred_nccl, succ_nccl;
  if (!nccl_edges.empty()) {
    // NCCL's own bootstrap connections use the interface the ring was told to use.
    if (!options.ifname.empty()) setenv("NCCL_SOCKET_IFNAME", options.ifname.c_str(), 0);
    const auto comms = create_nccl_comms(worker, nccl_edges, deadline);
    std::size_t next = 0;
    if (succ_path == Path::Nccl) succ_nccl = comms[next++];
    if (pred_path == Path::Nccl) pred_nccl = one_edge ? succ_nccl : comms[next++];
  }
  return std::make_unique<DeviceEdges>(
      worker, pred, succ, pred_peer.gpu_uuid, succ_peer.gpu_uuid, device,
      EdgeSetup{options.gpu_copy_kernel, pred_path == Path::Ucx, std::move(pred_nccl)},
      EdgeSetup{options.gpu_copy_kernel, succ_path == Path::Ucx, std::move(succ_nccl)});
}

}  // namespace ringpipe::gpu
