// ringpipe: Ring joins the rendezvous, connects both neighbours and hands out the edges.
#include <ringpipe/ring.hpp>

#include "deadline.hpp"
#include "edge_counters.hpp"
#include "failure_propagation.hpp"
#include "gpu/gpu_mode.hpp"
#include "link.hpp"
#include "liveness/advertised_host.hpp"
#include "liveness/monitor.hpp"
#include "log.hpp"
#include "net/host.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/hosted.hpp"
#include "ringpipe_config.hpp"
#include "single_copy/probe.hpp"
#include "ucx/context.hpp"
#include "ucx/edge_probe.hpp"
#include "ucx/endpoint.hpp"
#include "ucx/goodbye.hpp"
#include "ucx/pipe.hpp"
#include "ucx/request.hpp"
#include "ucx/single_copy.hpp"
#include "ucx/worker.hpp"

#include <array>
#include <memory>
#include <vector>

namespace ringpipe {
namespace detail {

class RingImpl {
 public:
  explicit RingImpl(const Options& options);
  RingImpl(const RingImpl&) = delete;
  RingImpl& operator=(const RingImpl&) = delete;
  ~RingImpl();

  Options options_;
  // Declared in acquisition order, so members are destroyed in UCX's teardown order.
  ucx::Context context_;
  ucx::Worker worker_;
  ucx::SingleCopy single_copy_;                 // outlives the requests it queues
  std::unique_ptr<liveness::Monitor> monitor_;  // rings of two or more ranks
  std::vector<std::unique_ptr<Link>> links_;
  ucx::RequestPool pool_;
  std::unique_ptr<ucx::UcxPipe> pred_;
  std::unique_ptr<ucx::UcxPipe> succ_;
  std::unique_ptr<FailurePropagation> failures_;
  gpu::LocalDevice device_;                   // GPU mode only
  std::unique_ptr<gpu::GpuEdges> gpu_edges_;  // GPU mode: the edges users see, over the pipes
  // For stats(), which other threads call: fixed once the ring is joined.
  double rendezvous_seconds_ = 0;
  std::vector<EdgeStats> edge_names_;  // edge, peer and link of each edge stats() reports

  [[nodiscard]] PipeGroup& pred() noexcept {
    return gpu_edges_ ? gpu_edges_->pred() : static_cast<PipeGroup&>(*pred_);
  }
  [[nodiscard]] PipeGroup& succ() noexcept {
    return gpu_edges_ ? gpu_edges_->succ() : static_cast<PipeGroup&>(*succ_);
  }
  void abort() noexcept { failures_->request_abort(); }
  [[nodiscard]] SingleCopyPaths single_copy_paths(const ucx::UcxPipe& pipe) const;

 private:
  [[nodiscard]] rendezvous::Hello hello(const std::string& liveness_host) const;
  void connect(const rendezvous::Peers& peers);
  void connect_gpu(const rendezvous::Peers& peers, const Deadline& deadline);
  void close_links(bool say_goodbye) noexcept;
  [[nodiscard]] Link& link_to(int peer);
};

namespace {

// Bounds each step of an orderly close, so a dead neighbour cannot hold a closing rank.
constexpr auto kCloseTimeout = std::chrono::milliseconds(2000);

// Checked before any transport is touched, so a bad request costs nothing.
const Options& checked(const Options& options) {
  options.validate();
  return options;
}

}  // namespace

RingImpl::RingImpl(const Options& options)
    : options_(checked(options)),
      context_(options.ifname, options.liveness_timeout),
      worker_(context_, options.progress),
      single_copy_(options.single_copy, options.registered_min_bytes, options.single_copy_min_bytes,
                   options.single_copy_max_bytes) {
  configure_logging(log_config_from_env());
  set_log_rank(options.rank);
  const Deadline deadline(options.rendezvous_timeout);
  // Before the rendezvous: a rank without a usable GPU fails alone, at once.
  if (options.comm_device == CommDevice::Gpu) {
    device_ = gpu::open_device(options);
    log(LogLevel::Info, "GPU mode on CUDA device " + std::to_string(device_.ordinal) + " (" +
                            device_.name + ", " + device_.uuid + ")");
  }

  std::unique_ptr<rendezvous::HostedRendezvous> head;
  std::uint16_t port = options.port;
  if (options.rank == 0) {
    head = std::make_unique<rendezvous::HostedRendezvous>(options, deadline);
    port = head->port();
    log(LogLevel::Info, "hosting the rendezvous on port " + std::to_string(port));
  }

  rendezvous::RendezvousClient client(options.head, port, deadline, options.token);
  std::string liveness_host;
  if (options.world_size > 1) {
    liveness_host = liveness::advertised_host(options, client.local_host());
    // Every interface: neighbours may reach this host by another address than the one it
    // advertises (its name); only ranks that know the ring's secret are kept.
    const bool ipv6 = client.local_host().find(':') != std::string::npos;
    monitor_ =
        std::make_unique<liveness::Monitor>(ipv6 ? "::" : "0.0.0.0", options.rank,
                                            options.liveness_timeout, [this] { worker_.wake(); });
  }
  try {
    const rendezvous::Peers peers = client.join(hello(liveness_host), deadline);
    connect(peers);
    if (monitor_) {
      const auto neighbour = [](const rendezvous::PeerRecord& record) {
        return liveness::Neighbour{static_cast<int>(record.rank), record.liveness_host,
                                   record.liveness_port};
      };
      monitor_->connect(options.world_size, neighbour(peers.pred), neighbour(peers.succ),
                        peers.ring_secret, deadline);
    }
    // After the liveness link: a neighbour that dies meanwhile fails the probe at once.
    const single_copy::ProbePage probe_page(options.single_copy);
    single_copy_.set_nonce(probe_page.hello().probe_pattern);
    ucx::probe_edges(worker_, *pred_, *succ_, probe_page, single_copy_.reader(), deadline);
    if (options.comm_device == CommDevice::Gpu) connect_gpu(peers, deadline);
    client.ready(deadline);
    if (head) head->finish();
    rendezvous_seconds_ = deadline.elapsed_s();
  } catch (...) {
    close_links(/*say_goodbye=*/false);
    throw;
  }
}

rendezvous::Hello RingImpl::hello(const std::string& liveness_host) const {
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = static_cast<std::uint32_t>(options_.world_size);
  hello.rank = static_cast<std::uint32_t>(options_.rank);
  hello.local_rank = static_cast<std::uint32_t>(options_.local_rank);
  hello.job_id = options_.job_id;
  hello.comm_device = static_cast<std::uint8_t>(options_.comm_device);
  hello.host = net::host_name();
  hello.host_identity = net::host_identity();
  hello.gpu_identity = device_.uuid;
  hello.address = worker_.address();
  if (monitor_) {
    hello.liveness_host = liveness_host;
    hello.liveness_port = monitor_->port();
  }
  return hello;
}

void RingImpl::connect(const rendezvous::Peers& peers) {
  // Both addresses before either endpoint: a neighbour refused for a bad address cannot have
  // left (and taken its shared memory with it) while this rank connects to the other one.
  for (const rendezvous::PeerRecord* record : {&peers.pred, &peers.succ}) {
    ucx::check_peer_address(worker_, record->address, static_cast<int>(record->rank));
  }
  for (const rendezvous::PeerRecord* record : {&peers.pred, &peers.succ}) {
    const int peer = static_cast<int>(record->rank);
    if (!links_.empty() && links_.front()->peer == peer) continue;  // world size 1 or 2
    auto link = std::make_unique<Link>();
    link->peer = peer;
    link->host = record->host;
    link->endpoint = std::make_unique<ucx::Endpoint>(worker_, record->address, peer);
    link->goodbye = std::make_unique<ucx::Goodbye>(worker_, *link->endpoint, options_.rank);
    links_.push_back(std::move(link));
  }
  const int n = options_.world_size;
  const int r = options_.rank;
  pred_ = std::make_unique<ucx::UcxPipe>(worker_, *link_to((r - 1 + n) % n).endpoint, pool_,
                                         single_copy_, ucx::UcxPipe::Side::Pred, r, n,
                                         options_.op_timeout);
  succ_ =
      std::make_unique<ucx::UcxPipe>(worker_, *link_to((r + 1) % n).endpoint, pool_, single_copy_,
                                     ucx::UcxPipe::Side::Succ, r, n, options_.op_timeout);
  failures_ = std::make_unique<FailurePropagation>(options_, worker_, monitor_.get(), links_,
                                                   std::array{pred_.get(), succ_.get()});
  // Failures first: a receive whose link failed is not copied.
  worker_.set_after_progress([this] {
    failures_->apply_link_events();
    single_copy_.run_pending();
  });
}

void RingImpl::connect_gpu(const rendezvous::Peers& peers, const Deadline& deadline) {
  const bool ucx_cuda = context_.supports_cuda_memory();
  if (ucx_cuda && options_.gpu_transport != GpuTransport::Ucx) {
    // CUDA memory goes to UCX only when asked: ringpipe's own paths keep one behaviour
    // (streams, deadlines, errors) whichever UCX build is loaded.
    log(LogLevel::Info,
        "the loaded UCX supports CUDA memory; GPU data takes ringpipe's own paths unless "
        "gpu_transport is ucx");
  }
  const auto peer_of = [&](const rendezvous::PeerRecord& record) {
    return gpu::EdgePeer{static_cast<int>(record.rank),
                         record.host_identity == net::host_identity(), record.gpu_identity};
  };
  gpu_edges_ = gpu::make_edges(worker_, *pred_, *succ_, peer_of(peers.pred), peer_of(peers.succ),
                               options_, device_, ucx_cuda, deadline);
}

SingleCopyPaths RingImpl::single_copy_paths(const ucx::UcxPipe& pipe) const {
  const ucx::EdgeCopyPaths& paths = pipe.copy_paths();
  SingleCopyPaths out;
  out.registered = single_copy_.enabled() && paths.send_mapped_file;
  out.plain = single_copy_.enabled() && paths.send_read_process;
  out.registered_min_bytes = single_copy_.registered_min_bytes();
  out.plain_min_bytes = single_copy_.plain_min_bytes();
  out.plain_max_bytes = single_copy_.plain_max_bytes();
  out.why_not = paths.why_not;
  return out;
}

Link& RingImpl::link_to(int peer) {
  for (const auto& link : links_) {
    if (link->peer == peer) return *link;
  }
  throw Error(Errc::Internal, "no link to rank " + std::to_string(peer));
}

RingImpl::~RingImpl() { close_links(/*say_goodbye=*/true); }

// The orderly close: tell each neighbour goodbye after everything sent before it, wait until
// that has arrived, then drop the endpoints. Neighbours then see Closed, never PeerFailed.
void RingImpl::close_links(bool say_goodbye) noexcept {
  try {
    if (failures_) failures_->apply_abort();  // an aborted ring says no goodbyes
    if (say_goodbye) {
      const Deadline deadline(kCloseTimeout);
      for (const auto& link : links_) link->goodbye->send();
      for (const auto& link : links_) link->goodbye->finish_send(deadline);
    }
  } catch (const std::exception& error) {
    log(LogLevel::Warning, std::string("closing the ring: ") + error.what());
  }
  // After the goodbyes: a neighbour that sees the liveness connection end has its goodbye.
  if (monitor_) monitor_->close();
  pool_.detach_all();
  gpu_edges_.reset();
  for (const auto& link : links_) link->goodbye->cancel_receive();
  // The edges go: what is left to progress here needs no failure applied to them.
  worker_.set_after_progress(nullptr);
  pred_.reset();
  succ_.reset();
  // Closing by force completes whatever is still in flight on the endpoints.
  for (const auto& link : links_) link->endpoint->close_by_force();
  const auto settled = [this] {
    for (const auto& link : links_) {
      if (!link->goodbye->settled()) return false;
    }
    return true;
  };
  try {
    if (!worker_.progress_until(settled, Deadline(kCloseTimeout))) {
      for (const auto& link : links_) {
        if (link->goodbye->settled()) continue;
        // Given back to UCX unfinished: UCX calls nothing of it any more.
        log(LogLevel::Warning,
            "closing the ring: the link to rank " + std::to_string(link->peer) + " did not settle");
      }
    }
  } catch (const std::exception& error) {
    log(LogLevel::Warning, std::string("closing the ring: ") + error.what());
  }
}

}  // namespace detail

Ring::Ring(const Options& options) : impl_(std::make_unique<detail::RingImpl>(options)) {
  // stats() runs on any thread, where the endpoints may not be asked for their transports.
  const auto describe = [this](const char* name, const PipeGroup& edge) {
    EdgeStats stats;
    stats.edge = name;
    stats.peer = edge.peer();
    stats.link = link_info(edge);
    impl_->edge_names_.push_back(std::move(stats));
  };
  describe("pred", pred());
  describe("succ", succ());
  if (impl_->gpu_edges_) {
    describe("host_pred", host_pred());
    describe("host_succ", host_succ());
  }
}
Ring::Ring(Ring&&) noexcept = default;
Ring& Ring::operator=(Ring&&) noexcept = default;
Ring::~Ring() = default;

int Ring::rank() const noexcept { return impl_->options_.rank; }
int Ring::world_size() const noexcept { return impl_->options_.world_size; }
CommDevice Ring::comm_device() const noexcept { return impl_->options_.comm_device; }
const Options& Ring::options() const noexcept { return impl_->options_; }
PipeGroup& Ring::pred() noexcept { return impl_->pred(); }
PipeGroup& Ring::succ() noexcept { return impl_->succ(); }
PipeGroup& Ring::host_pred() noexcept { return *impl_->pred_; }
PipeGroup& Ring::host_succ() noexcept { return *impl_->succ_; }
void Ring::abort() { impl_->abort(); }
RegisteredBuffer Ring::allocate(std::size_t bytes) { return RegisteredBuffer(bytes); }

RingStats Ring::stats() const {
  const detail::RingImpl& impl = *impl_;
  RingStats stats;
  stats.rank = impl.options_.rank;
  stats.world_size = impl.options_.world_size;
  stats.rendezvous_seconds = impl.rendezvous_seconds_;
  stats.liveness_beats_missed = impl.monitor_ ? impl.monitor_->beats_missed() : 0;
  const auto counters_of = [&impl](std::size_t index) -> const detail::EdgeCounters& {
    const ucx::UcxPipe& host = index % 2 == 0 ? *impl.pred_ : *impl.succ_;
    if (index >= 2 || !impl.gpu_edges_) return host.counters();
    return impl.gpu_edges_->counters(index == 0 ? impl.gpu_edges_->pred()
                                                : impl.gpu_edges_->succ());
  };
  for (std::size_t i = 0; i < impl.edge_names_.size(); ++i) {
    EdgeStats edge = impl.edge_names_[i];
    const detail::EdgeCounters& counters = counters_of(i);
    edge.send = counters.send.snapshot();
    edge.recv = counters.recv.snapshot();
    edge.last_error = counters.last_error.get();
    stats.edges.push_back(std::move(edge));
  }
  return stats;
}

LinkInfo Ring::link_info(const PipeGroup& edge) const {
  for (const auto& link : impl_->links_) {
    if (link->peer == edge.peer()) {
      LinkInfo info{link->peer, link->host, DataPath::Host, link->endpoint->transport_names(), {}};
      if (impl_->gpu_edges_ && (&edge == &impl_->pred() || &edge == &impl_->succ())) {
        info.data_path = impl_->gpu_edges_->path(edge);
        return info;
      }
      const bool is_pred = &edge == impl_->pred_.get() || &edge == &impl_->pred();
      info.single_copy = impl_->single_copy_paths(is_pred ? *impl_->pred_ : *impl_->succ_);
      return info;
    }
  }
  throw Error(Errc::InvalidArgument, "link_info: the edge does not belong to this ring");
}

}  // namespace ringpipe
