// ringpipe: how a failure anywhere in the ring ends the ring everywhere.
#include "failure_propagation.hpp"

#include "deadline.hpp"
#include "log.hpp"
#include "ucx/status.hpp"

#include <algorithm>
#include <string>
#include <thread>

namespace ringpipe::detail {
namespace {

// Before a neighbour's death fails the receives, what it sent is taken from the transport's
// queues: progress until this many polls in a row found nothing, for at most this long.
constexpr int kIdlePollsWhenDrained = 16;
constexpr auto kDrainTimeout = std::chrono::milliseconds(100);
// A neighbour's endpoint that fails with no word from the liveness connection: the reason
// (a notice, the connection's end) is usually a moment behind over the other socket, and names
// the cause better than UCX's error. Waited for once per ring.
constexpr auto kExplanationWait = std::chrono::milliseconds(50);

}  // namespace

FailurePropagation::FailurePropagation(const Options& options, ucx::Worker& worker,
                                       liveness::Monitor* monitor,
                                       std::vector<std::unique_ptr<Link>>& links,
                                       std::array<ucx::UcxPipe*, 2> edges)
    : rank_(options.rank),
      liveness_timeout_(options.liveness_timeout),
      worker_(worker),
      monitor_(monitor),
      links_(links),
      edges_(edges) {}

void FailurePropagation::apply_link_events() {
  apply_abort();
  if (monitor_ && monitor_->has_events()) {
    // The liveness connection reports a death within milliseconds, sooner than the transport
    // delivers everything the neighbour sent before it died: a message whose send completed
    // there may still sit in this rank's shared-memory queue or socket. Deliver those first,
    // so that nothing acknowledged as sent is lost to the failure.
    worker_.drain_arrivals(kIdlePollsWhenDrained, Deadline(kDrainTimeout));
    for (const liveness::Event& event : monitor_->take_events()) note(event);
  }
  // A neighbour's notice names where the ring broke, and comes first when this rank's own view
  // says less: connections that ended while this rank was stopped (and declared stalled), or
  // an endpoint that merely failed (a neighbour that left once it was told, or that ended its
  // link on purpose). A goodbye or a liveness verdict on a neighbour is applied as it is.
  const bool says_less = std::any_of(links_.begin(), links_.end(), [this](const auto& link) {
    return !link->reported && unexplained(*link);
  });
  if (notice_ && (notice_->origin == rank_ || says_less)) apply_notice();
  for (const auto& link : links_) {
    if (!link->reported && unexplained(*link) && await_explanation()) {
      return apply_link_events();  // the liveness connection said more: apply that
    }
    const bool received = link->goodbye_received();
    if (link->reported || !(received || link->lost || link->endpoint->failed())) continue;
    // An edge of this link that failed here first (a timed-out send closes the endpoint) is
    // the cause, unless the neighbour had closed or failed already.
    if (!received && !link->lost) {
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

bool FailurePropagation::unexplained(const Link& link) const {
  return link.endpoint->failed() && !link.goodbye_received() && !link.lost && !failure_here(link);
}

bool FailurePropagation::await_explanation() {
  if (monitor_ == nullptr || notice_ || waited_for_explanation_) return false;
  waited_for_explanation_ = true;
  const Deadline deadline(kExplanationWait);
  while (!monitor_->has_events()) {
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

Error FailurePropagation::neighbour_cause(const Link& link) {
  if (link.goodbye_received()) {
    return Error(Errc::Closed, link.describe() +
                                   " closed its ring; nothing more can be sent to or received "
                                   "from it");
  }
  if (link.lost) return *link.lost;
  return Error(Errc::PeerFailed, link.describe() + " failed or became unreachable: " +
                                     ucx::describe(link.endpoint->failure()));
}

// A neighbour's notice: the ring is broken elsewhere (or this rank was declared stalled).
void FailurePropagation::apply_notice() {
  if (ring_broken_) return;
  const liveness::Event& notice = *notice_;
  const std::string teller = "rank " + std::to_string(notice.neighbour);
  if (notice.origin == rank_) {
    break_ring(rank_, liveness::Reason::Stalled,
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

void FailurePropagation::note(const liveness::Event& event) {
  using Kind = liveness::Event::Kind;
  if (event.kind == Kind::Notice) {
    if (!notice_) notice_ = event;
    return;
  }
  Link& link = link_to(event.neighbour);
  if (link.lost) return;
  const std::string who = link.describe();
  if (event.kind == Kind::Stalled) {
    link.lost = Error(Errc::Stalled, who + " showed no sign of life for " +
                                         format_seconds(liveness_timeout_.count() / 1e3) +
                                         " (stopped, hung, or its link is cut)");
  } else {
    link.lost = Error(Errc::PeerFailed, who + " died or its link broke: " + event.detail);
  }
}

void FailurePropagation::fail_link(Link& link, const Error& cause) {
  link.reported = true;
  for (ucx::UcxPipe* edge : edges_) {
    if (edge->peer() == link.peer) edge->fail(cause);
  }
  // Nothing sent on the link can arrive any more: closing the endpoint makes UCX complete
  // the pending sends, which then report the cause.
  link.endpoint->close_by_force();
}

std::optional<Error> FailurePropagation::failure_here(const Link& link) const {
  for (const ucx::UcxPipe* edge : edges_) {
    if (edge->peer() == link.peer && edge->failure()) return edge->failure();
  }
  return std::nullopt;
}

void FailurePropagation::fail_own_link(Link& link, const Error& cause) {
  // Told before the endpoint closes: the neighbour learns why before it sees the link end.
  const bool told = link.peer != rank_ &&  // a ring of one: nobody to tell
                    announce_break(rank_, liveness::Reason::LinkFailed, /*told_by=*/-1,
                                   static_cast<std::uint16_t>(cause.code()));
  fail_link(link, cause);
  if (told) {
    fail_remaining_links(Error(Errc::Closed, "this rank failed its link to " + link.describe() +
                                                 " (" + cause.what() + "), so the ring is broken"));
  }
}

bool FailurePropagation::announce_break(int origin, liveness::Reason reason, int told_by,
                                        std::uint16_t link_cause) {
  if (ring_broken_) return false;
  ring_broken_ = true;
  if (monitor_) monitor_->notify(origin, reason, told_by, link_cause);
  return true;
}

void FailurePropagation::break_ring(int origin, liveness::Reason reason, const Error& cause,
                                    int told_by, std::uint16_t link_cause) {
  // Told before the endpoints close, so neighbours learn the origin, not only that this rank
  // went away.
  if (announce_break(origin, reason, told_by, link_cause)) fail_remaining_links(cause);
}

void FailurePropagation::fail_remaining_links(const Error& cause) {
  for (const auto& link : links_) {
    if (!link->reported) fail_link(*link, cause);
  }
}

void FailurePropagation::apply_abort() {
  if (ring_broken_ || !abort_requested_.load(std::memory_order_acquire)) return;
  ring_broken_ = true;  // the neighbours were told by request_abort() itself
  fail_remaining_links(Error(Errc::Closed, "this rank aborted the ring"));
}

void FailurePropagation::request_abort() noexcept {
  if (abort_requested_.exchange(true, std::memory_order_acq_rel)) return;
  // The monitor is thread-safe; UCX is not, so the owner applies the abort on its own thread.
  if (monitor_) monitor_->notify(rank_, liveness::Reason::Aborted, /*told_by=*/-1);
  worker_.wake();
}

Link& FailurePropagation::link_to(int peer) {
  for (const auto& link : links_) {
    if (link->peer == peer) return *link;
  }
  throw Error(Errc::Internal, "no link to rank " + std::to_string(peer));
}

}  // namespace ringpipe::detail
