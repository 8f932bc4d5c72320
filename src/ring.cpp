// ringpipe: Ring joins the rendezvous, connects both neighbours over UCX and closes in order.
#include <ringpipe/ring.hpp>

#include "deadline.hpp"
#include "gpu/gpu_mode.hpp"
#include "liveness/monitor.hpp"
#include "log.hpp"
#include "net/host.hpp"
#include "net/interfaces.hpp"
#include "net/socket.hpp"
#include "rendezvous/client.hpp"
#include "rendezvous/server.hpp"
#include "ringpipe_config.hpp"
#include "ucx/context.hpp"
#include "ucx/endpoint.hpp"
#include "ucx/pipe.hpp"
#include "ucx/request.hpp"
#include "ucx/status.hpp"
#include "ucx/worker.hpp"

#include <array>
#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace ringpipe {
namespace detail {
namespace {

// Bounds each step of an orderly close, so a dead neighbour cannot hold a closing rank.
constexpr auto kCloseTimeout = std::chrono::milliseconds(2000);
// Before a neighbour's death fails the receives, what it sent is taken from the transport's
// queues: progress until this many polls in a row found nothing, for at most this long.
constexpr int kIdlePollsWhenDrained = 16;
constexpr auto kDrainTimeout = std::chrono::milliseconds(100);

// Rank 0 hosts the rendezvous on a thread for the duration of the Ring's construction.
class HostedRendezvous {
 public:
  HostedRendezvous(net::Socket listener, const Options& options, const detail::Deadline& deadline)
      : server_(std::move(listener),
                rendezvous::ServerConfig{
                    options.world_size, options.job_id,
                    static_cast<std::uint8_t>(options.comm_device), RINGPIPE_VERSION,
                    std::min(options.rendezvous_timeout, std::chrono::milliseconds(10000)),
                    options.token}),
        thread_([this, deadline] {
          try {
            server_.run(deadline, stop_);
          } catch (...) {
            failure_ = std::current_exception();
          }
        }) {}
  HostedRendezvous(const HostedRendezvous&) = delete;
  HostedRendezvous& operator=(const HostedRendezvous&) = delete;
  ~HostedRendezvous() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }

  // Waits for the head to finish; rethrows its failure.
  void finish() {
    thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  rendezvous::RendezvousServer server_;
  std::atomic<bool> stop_{false};
  std::exception_ptr failure_;
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace

// One neighbour process: the endpoint to it and whether it said goodbye.
struct Link {
  int peer = 0;
  std::string host;
  std::unique_ptr<ucx::Endpoint> endpoint;
  bool goodbye_received = false;
  void* goodbye_request = nullptr;  // the posted receive of the neighbour's goodbye
  void* goodbye_send = nullptr;     // this rank's goodbye, while UCX holds it
  bool goodbye_posted = false;
  bool goodbye_sent = false;
  bool reported = false;      // its close or failure has been applied to the pipes
  std::optional<Error> lost;  // the liveness monitor's verdict: died or stalled
};

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
  std::unique_ptr<liveness::Monitor> monitor_;  // rings of two or more ranks
  std::vector<std::unique_ptr<Link>> links_;
  ucx::RequestPool pool_;
  std::unique_ptr<ucx::UcxPipe> pred_;
  std::unique_ptr<ucx::UcxPipe> succ_;
  gpu::LocalDevice device_;                   // GPU mode only
  std::unique_ptr<gpu::GpuEdges> gpu_edges_;  // GPU mode: the edges users see, over the pipes

  [[nodiscard]] PipeGroup& pred() noexcept {
    return gpu_edges_ ? gpu_edges_->pred() : static_cast<PipeGroup&>(*pred_);
  }
  [[nodiscard]] PipeGroup& succ() noexcept {
    return gpu_edges_ ? gpu_edges_->succ() : static_cast<PipeGroup&>(*succ_);
  }

  // Ring::abort, from any thread: the neighbours are told at once; this rank's operations fail
  // from its owner's next progress or post on (the owner alone drives UCX).
  void abort() noexcept;

 private:
  void connect(const rendezvous::Peers& peers);
  void connect_gpu(const rendezvous::Peers& peers, const Deadline& deadline);
  void post_goodbye_receive(Link& link);
  void apply_link_events();
  void apply_notice();
  // Applies an abort() of any thread on the owner's thread.
  void apply_abort();
  [[nodiscard]] static std::string describe_peer(const Link& link);
  [[nodiscard]] static Error neighbour_cause(const Link& link);
  void drain_arrivals();
  void note(const liveness::Event& event);
  // Fails every edge not failed yet with `cause` and tells the neighbours (but `told_by`)
  // that `origin` failed, so the whole ring stops, not only the failed rank's neighbours.
  void break_ring(int origin, liveness::Reason reason, const Error& cause, int told_by,
                  std::uint16_t link_cause = 0);
  void fail_link(Link& link, const Error& cause);
  void fail_remaining_links(const Error& cause);
  // The failure of an edge of `link` at this end, if any.
  [[nodiscard]] std::optional<Error> failure_here(const Link& link) const;
  // This end failed the link (its endpoint is closed, so what the neighbour sends on it would
  // be lost): the neighbour and the rest of the ring are told at once.
  void fail_own_link(Link& link, const Error& cause);
  void close_links(bool say_goodbye) noexcept;
  void say_goodbyes(const Deadline& deadline);
  [[nodiscard]] Link& link_to(int peer);

  bool ring_broken_ = false;
  std::atomic<bool> abort_requested_{false};  // set by abort() from any thread
  std::optional<liveness::Event> notice_;     // the first notice a neighbour sent
};

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" ||
         host.rfind("::ffff:127.", 0) == 0;
}

// Neighbours reach this rank's liveness listener at the address of the interface the ring was
// told to use (the data's network), else at the address it reached the head from. A loopback
// address there is only right when the head itself was named as loopback (a ring on one
// host); otherwise (a host name that /etc/hosts maps to 127.0.1.1 on rank 0's own host) other
// hosts could not use it, and the host's name is what they can resolve.
std::string advertised_liveness_host(const Options& options, const std::string& local) {
  if (!options.ifname.empty()) {
    // Of the family the listener serves: the one this rank reached the head by.
    const bool ipv6 = local.find(':') != std::string::npos;
    if (auto address = net::interface_address(options.ifname, ipv6)) return *address;
    // Not a network interface of this host (UCX also takes device names such as mlx5_0:1).
    log(LogLevel::Info, "interface " + options.ifname + " has no " + (ipv6 ? "IPv6" : "IPv4") +
                            " address here; neighbours check this rank's liveness over the "
                            "network it reached the head by");
  }
  if (!is_loopback(local) || is_loopback(options.head)) return local;
  return net::host_name();
}

// Checked before any transport is touched, so a bad request costs nothing.
const Options& checked(const Options& options) {
  options.validate();
  return options;
}

}  // namespace

RingImpl::RingImpl(const Options& options)
    : options_(checked(options)),
      context_(options.ifname, options.liveness_timeout),
      worker_(context_, options.progress) {
  configure_logging(log_config_from_env());
  set_log_rank(options.rank);
  const Deadline deadline(options.rendezvous_timeout);
  // Before the rendezvous: a rank without a usable GPU fails alone, at once.
  if (options.comm_device == CommDevice::Gpu) {
    device_ = gpu::open_device(options);
    log(LogLevel::Info, "GPU mode on CUDA device " + std::to_string(device_.ordinal) + " (" +
                            device_.name + ", " + device_.uuid + ")");
  }

  std::unique_ptr<HostedRendezvous> head;
  std::uint16_t port = options.port;
  if (options.rank == 0) {
    head = std::make_unique<HostedRendezvous>(
        options.listen_fd >= 0 ? net::adopt_listener(options.listen_fd, options.port)
                               : net::listen_on(options.head, options.port, options.port_origin),
        options, deadline);
    port = head->port();
    log(LogLevel::Info, "hosting the rendezvous on port " + std::to_string(port));
  }

  rendezvous::RendezvousClient client(options.head, port, deadline, options.token);
  std::string liveness_host;
  if (options.world_size > 1) {
    liveness_host = advertised_liveness_host(options, client.local_host());
    // Every interface: neighbours may reach this host by another address than the one it
    // advertises (its name); only ranks that know the ring's secret are kept.
    const bool ipv6 = client.local_host().find(':') != std::string::npos;
    monitor_ =
        std::make_unique<liveness::Monitor>(ipv6 ? "::" : "0.0.0.0", options.rank,
                                            options.liveness_timeout, [this] { worker_.wake(); });
  }
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = static_cast<std::uint32_t>(options.world_size);
  hello.rank = static_cast<std::uint32_t>(options.rank);
  hello.local_rank = static_cast<std::uint32_t>(options.local_rank);
  hello.job_id = options.job_id;
  hello.comm_device = static_cast<std::uint8_t>(options.comm_device);
  hello.host = net::host_name();
  hello.host_identity = net::host_identity();
  hello.gpu_identity = device_.uuid;
  hello.address = worker_.address();
  if (monitor_) {
    hello.liveness_host = liveness_host;
    hello.liveness_port = monitor_->port();
  }
  try {
    const rendezvous::Peers peers = client.join(hello, deadline);
    connect(peers);
    if (monitor_) {
      const auto neighbour = [](const rendezvous::PeerRecord& record) {
        return liveness::Neighbour{static_cast<int>(record.rank), record.liveness_host,
                                   record.liveness_port};
      };
      monitor_->connect(options.world_size, neighbour(peers.pred), neighbour(peers.succ),
                        peers.ring_secret, deadline);
    }
    if (options.comm_device == CommDevice::Gpu) connect_gpu(peers, deadline);
    client.ready(deadline);
    if (head) head->finish();
  } catch (...) {
    close_links(/*say_goodbye=*/false);
    throw;
  }
}

void RingImpl::connect(const rendezvous::Peers& peers) {
  worker_.set_after_progress([this] { apply_link_events(); });
  for (const rendezvous::PeerRecord* record : {&peers.pred, &peers.succ}) {
    const int peer = static_cast<int>(record->rank);
    if (!links_.empty() && links_.front()->peer == peer) continue;  // world size 1 or 2
    auto link = std::make_unique<Link>();
    link->peer = peer;
    link->host = record->host;
    link->endpoint = std::make_unique<ucx::Endpoint>(worker_, record->address, peer);
    links_.push_back(std::move(link));
    // Posted once the link is owned by links_, so UCX never holds a pointer to a dropped link.
    if (peer != options_.rank) post_goodbye_receive(*links_.back());
  }
  const int n = options_.world_size;
  const int r = options_.rank;
  pred_ = std::make_unique<ucx::UcxPipe>(worker_, *link_to((r - 1 + n) % n).endpoint, pool_,
                                         ucx::UcxPipe::Side::Pred, r, n, options_.op_timeout);
  succ_ = std::make_unique<ucx::UcxPipe>(worker_, *link_to((r + 1) % n).endpoint, pool_,
                                         ucx::UcxPipe::Side::Succ, r, n, options_.op_timeout);
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

void RingImpl::post_goodbye_receive(Link& link) {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.recv = [](void* request, ucs_status_t status, const ucp_tag_recv_info_t*,
                     void* user_data) {
    auto* self = static_cast<Link*>(user_data);
    self->goodbye_request = nullptr;
    ucp_request_free(request);
    if (status == UCS_OK) {
      self->goodbye_received = true;
      self->endpoint->worker().request_after_progress();
    }
  };
  param.user_data = &link;
  const ucs_status_ptr_t request = ucp_tag_recv_nbx(
      worker_.get(), nullptr, 0, ucx::goodbye_tag(link.peer), ucx::kFullMask, &param);
  if (UCS_PTR_IS_ERR(request)) {
    ucx::check(UCS_PTR_STATUS(request),
               "cannot post the close receive for rank " + std::to_string(link.peer));
  }
  link.goodbye_request = request;  // never NULL: the neighbour has not closed yet
}

// Runs after progress when a neighbour said goodbye, its endpoint failed or the liveness
// monitor reported: every pending and later operation on that neighbour's edges then fails
// with the cause, and a neighbour's failure breaks the whole ring.
void RingImpl::apply_link_events() {
  apply_abort();
  if (monitor_ && monitor_->has_events()) {
    drain_arrivals();
    for (const liveness::Event& event : monitor_->take_events()) note(event);
  }
  // A rank that was stopped learns first that its neighbours declared it stalled: its view of
  // them (connections ended while it slept) must not be taken for their failure.
  if (notice_ && notice_->origin == options_.rank) apply_notice();
  for (const auto& link : links_) {
    if (link->reported || !(link->goodbye_received || link->lost || link->endpoint->failed())) {
      continue;
    }
    // An edge of this link that failed here first (a timed-out send closes the endpoint) is
    // the cause, unless the neighbour had closed or failed already.
    if (!link->goodbye_received && !link->lost) {
      if (const std::optional<Error> here = failure_here(*link)) {
        fail_own_link(*link, *here);
        continue;
      }
    }
    const Error cause = neighbour_cause(*link);
    fail_link(*link, cause);
    if (cause.code() != Errc::Closed) {
      const auto reason =
          cause.code() == Errc::Stalled ? liveness::Reason::Stalled : liveness::Reason::Died;
      break_ring(link->peer, reason,
                 Error(Errc::PeerFailed, "the ring is broken: " + std::string(cause.message())),
                 link->peer);
    }
  }
  if (notice_) apply_notice();
}

std::string RingImpl::describe_peer(const Link& link) {
  return "rank " + std::to_string(link.peer) + " (" + link.host + ")";
}

// Why a link ended when this rank did not end it: a goodbye, the liveness verdict, or UCX.
Error RingImpl::neighbour_cause(const Link& link) {
  if (link.goodbye_received) {
    return Error(Errc::Closed, describe_peer(link) +
                                   " closed its ring; nothing more can be sent to or received "
                                   "from it");
  }
  if (link.lost) return *link.lost;
  return Error(Errc::PeerFailed, describe_peer(link) + " failed or became unreachable: " +
                                     ucx::describe(link.endpoint->failure()));
}

// A neighbour's notice: the ring is broken elsewhere (or this rank was declared stalled).
void RingImpl::apply_notice() {
  if (ring_broken_) return;
  const liveness::Event& notice = *notice_;
  const std::string teller = "rank " + std::to_string(notice.neighbour);
  if (notice.origin == options_.rank) {
    break_ring(options_.rank, liveness::Reason::Stalled,
               Error(Errc::Stalled, teller + " declared this rank stalled (it showed no sign of "
                                             "life for the neighbour's liveness timeout); the "
                                             "ring is broken"),
               notice.neighbour);
    return;
  }
  std::string what;
  switch (notice.reason) {
    case liveness::Reason::Aborted:
      what = "aborted the ring";
      break;
    case liveness::Reason::Stalled:
      what = "stalled";
      break;
    case liveness::Reason::Died:
      what = "died or lost its link";
      break;
    case liveness::Reason::LinkFailed:
      // Messages sent on that link since it failed there were not received.
      what = "failed its link to a neighbour (" +
             std::string(to_string(static_cast<Errc>(notice.cause))) + " there)";
      break;
  }
  const std::string message = "rank " + std::to_string(notice.origin) + " " + what +
                              ", so the ring is broken (told by " + teller + ")";
  // The news may come round the ring before this rank's own verdict on a neighbour that
  // stalled: its edges still say Stalled, as the verdict would have.
  for (const auto& link : links_) {
    if (link->peer == notice.origin && !link->reported &&
        notice.reason == liveness::Reason::Stalled) {
      fail_link(*link, Error(Errc::Stalled, message));
    }
  }
  break_ring(notice.origin, notice.reason, Error(Errc::PeerFailed, message), notice.neighbour,
             notice.cause);
}

// The liveness connection reports a death within milliseconds, sooner than the transport
// delivers everything the neighbour sent before it died: a message whose send completed there
// may still sit in this rank's shared-memory queue or socket. Deliver those first, so that
// nothing acknowledged as sent is lost to the failure.
void RingImpl::drain_arrivals() {
  const Deadline deadline(kDrainTimeout);
  int idle = 0;
  while (idle < kIdlePollsWhenDrained && !deadline.expired()) {
    idle = ucp_worker_progress(worker_.get()) != 0 ? 0 : idle + 1;
  }
}

void RingImpl::note(const liveness::Event& event) {
  using Kind = liveness::Event::Kind;
  if (event.kind == Kind::Notice) {
    if (!notice_) notice_ = event;
    return;
  }
  Link& link = link_to(event.neighbour);
  if (link.lost) return;
  const std::string who = describe_peer(link);
  if (event.kind == Kind::Stalled) {
    link.lost = Error(Errc::Stalled, who + " showed no sign of life for " +
                                         format_seconds(options_.liveness_timeout.count() / 1e3) +
                                         " (stopped, hung, or its link is cut)");
  } else {
    link.lost = Error(Errc::PeerFailed, who + " died or its link broke: " + event.detail);
  }
}

void RingImpl::fail_link(Link& link, const Error& cause) {
  link.reported = true;
  for (ucx::UcxPipe* pipe : {pred_.get(), succ_.get()}) {
    if (pipe != nullptr && pipe->peer() == link.peer) pipe->fail(cause);
  }
  // Nothing sent on the link can arrive any more: closing the endpoint makes UCX complete
  // the pending sends, which then report the cause.
  link.endpoint->close_by_force();
}

std::optional<Error> RingImpl::failure_here(const Link& link) const {
  for (const ucx::UcxPipe* pipe : {pred_.get(), succ_.get()}) {
    if (pipe != nullptr && pipe->peer() == link.peer && pipe->failure()) return pipe->failure();
  }
  return std::nullopt;
}

void RingImpl::fail_own_link(Link& link, const Error& cause) {
  fail_link(link, cause);
  if (link.peer == options_.rank) return;  // a ring of one: nobody to tell
  break_ring(options_.rank, liveness::Reason::LinkFailed,
             Error(Errc::Closed, "this rank failed its link to " + describe_peer(link) + " (" +
                                     cause.what() + "), so the ring is broken"),
             /*told_by=*/-1, static_cast<std::uint16_t>(cause.code()));
}

void RingImpl::break_ring(int origin, liveness::Reason reason, const Error& cause, int told_by,
                          std::uint16_t link_cause) {
  if (ring_broken_) return;
  ring_broken_ = true;
  // Told before the endpoints close, so neighbours learn the origin, not only that this rank
  // went away.
  if (monitor_) monitor_->notify(origin, reason, told_by, link_cause);
  fail_remaining_links(cause);
}

void RingImpl::fail_remaining_links(const Error& cause) {
  for (const auto& link : links_) {
    if (!link->reported) fail_link(*link, cause);
  }
}

void RingImpl::apply_abort() {
  if (ring_broken_ || !abort_requested_.load(std::memory_order_acquire)) return;
  ring_broken_ = true;  // the neighbours were told by abort() itself
  fail_remaining_links(Error(Errc::Closed, "this rank aborted the ring"));
}

void RingImpl::abort() noexcept {
  if (abort_requested_.exchange(true, std::memory_order_acq_rel)) return;
  // The monitor is thread-safe; UCX is not, so the owner applies the abort on its own thread.
  if (monitor_) monitor_->notify(options_.rank, liveness::Reason::Aborted, /*told_by=*/-1);
  worker_.wake();
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
    apply_abort();  // an aborted ring says no goodbyes
    if (say_goodbye) say_goodbyes(Deadline(kCloseTimeout));
  } catch (const std::exception& error) {
    log(LogLevel::Warning, std::string("closing the ring: ") + error.what());
  }
  // After the goodbyes: a neighbour that sees the liveness connection end has its goodbye.
  if (monitor_) monitor_->close();
  pool_.detach_all();
  gpu_edges_.reset();
  for (const auto& link : links_) {
    if (link->goodbye_request != nullptr) {
      ucp_request_cancel(worker_.get(), link->goodbye_request);
    }
  }
  pred_.reset();
  succ_.reset();
  // Closing by force completes whatever is still in flight on the endpoints.
  for (const auto& link : links_) link->endpoint->close_by_force();
  const auto settled = [this] {
    for (const auto& link : links_) {
      if (link->goodbye_request != nullptr || (link->goodbye_send && !link->goodbye_sent)) {
        return false;
      }
    }
    return true;
  };
  try {
    worker_.progress_until(settled, Deadline(kCloseTimeout));
  } catch (const std::exception& error) {
    log(LogLevel::Warning, std::string("closing the ring: ") + error.what());
  }
  for (auto& link : links_) {
    if (link->goodbye_send && link->goodbye_sent) ucp_request_free(link->goodbye_send);
    if (link->goodbye_request != nullptr || (link->goodbye_send && !link->goodbye_sent)) {
      // UCX may still call back into this link: keep it alive rather than risk that.
      log(LogLevel::Warning,
          "closing the ring: the link to rank " + std::to_string(link->peer) + " did not settle");
      (void)link.release();
    }
  }
  worker_.set_after_progress(nullptr);
}

// Each neighbour gets a goodbye after everything sent to it before; the flush makes sure it has
// arrived before the endpoint goes.
void RingImpl::say_goodbyes(const Deadline& deadline) {
  for (const auto& link : links_) {
    if (link->peer == options_.rank || link->endpoint->failed() || link->goodbye_received) {
      continue;
    }
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.send = [](void*, ucs_status_t, void* user_data) {
      static_cast<Link*>(user_data)->goodbye_sent = true;
    };
    param.user_data = link.get();
    const ucs_status_ptr_t request = ucp_tag_send_nbx(link->endpoint->get(), nullptr, 0,
                                                      ucx::goodbye_tag(options_.rank), &param);
    if (UCS_PTR_IS_ERR(request)) continue;
    link->goodbye_posted = true;
    if (request == nullptr) {
      link->goodbye_sent = true;  // completed in place: queued locally, not yet delivered
    } else {
      link->goodbye_send = request;
    }
  }
  for (const auto& link : links_) {
    if (!link->goodbye_posted) continue;
    worker_.progress_until([&] { return link->goodbye_sent; }, deadline);
    // A send that completed locally may still sit in a transport queue: the flush is what says
    // it (and everything before it) reached the neighbour.
    link->endpoint->flush(deadline);
  }
}

}  // namespace detail

Ring::Ring(const Options& options) : impl_(std::make_unique<detail::RingImpl>(options)) {}
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

LinkInfo Ring::link_info(const PipeGroup& edge) const {
  for (const auto& link : impl_->links_) {
    if (link->peer == edge.peer()) {
      LinkInfo info{link->peer, link->host, "ucx: " + link->endpoint->transports(), "host"};
      if (impl_->gpu_edges_ && (&edge == &impl_->pred() || &edge == &impl_->succ())) {
        info.data_path = impl_->gpu_edges_->path(edge);
        info.transport = info.data_path + " (control over " + info.transport + ")";
      }
      return info;
    }
  }
  throw Error(Errc::InvalidArgument, "link_info: the edge does not belong to this ring");
}

}  // namespace ringpipe
