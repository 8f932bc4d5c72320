// ringpipe: how a failure anywhere in the ring ends the ring everywhere.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "link.hpp"
#include "liveness/monitor.hpp"
#include "ucx/pipe.hpp"
#include "ucx/worker.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace ringpipe::detail {

// Turns what a rank learns about its links (a goodbye, a failed endpoint, the liveness
// monitor's verdicts and neighbours' notices, its own failed sends, an abort) into the failure
// of its edges, and passes a failure on round the ring, so that every rank stops, not only the
// failed rank's neighbours. Runs on the Ring owner's thread, from the worker's after-progress
// hook; only request_abort() may be called from any thread.
class FailurePropagation {
 public:
  // `monitor` is null on a ring of one. The edges are the host pipes to pred and succ.
  FailurePropagation(const Options& options, ucx::Worker& worker, liveness::Monitor* monitor,
                     std::vector<std::unique_ptr<Link>>& links, std::array<ucx::UcxPipe*, 2> edges);
  FailurePropagation(const FailurePropagation&) = delete;
  FailurePropagation& operator=(const FailurePropagation&) = delete;

  // After progress, when a neighbour said goodbye, its endpoint failed or the monitor
  // reported: every pending and later operation on that neighbour's edges then fails with the
  // cause, and a neighbour's failure breaks the whole ring.
  void apply_link_events();

  // Ring::abort, from any thread: the neighbours are told at once; this rank's operations fail
  // from its owner's next progress or post on (the owner alone drives UCX).
  void request_abort() noexcept;
  // Applies a requested abort on the owner's thread.
  void apply_abort();

 private:
  void apply_notice();
  // The link's endpoint failed, and nothing says why yet.
  [[nodiscard]] bool unexplained(const Link& link) const;
  // Waits briefly for the liveness connection to explain a failed endpoint; true if it spoke.
  [[nodiscard]] bool await_explanation();
  void note(const liveness::Event& event);
  // Why a link ended when this rank did not end it: a goodbye, the liveness verdict, or UCX.
  [[nodiscard]] static Error neighbour_cause(const Link& link);
  // Fails every edge not failed yet with `cause` and tells the neighbours (but `told_by`)
  // that `origin` failed, so the whole ring stops, not only the failed rank's neighbours.
  void break_ring(int origin, liveness::Reason reason, const Error& cause, int told_by,
                  std::uint16_t link_cause = 0);
  // Marks the ring broken and tells the neighbours; false if it was broken already.
  bool announce_break(int origin, liveness::Reason reason, int told_by, std::uint16_t link_cause);
  void fail_link(Link& link, const Error& cause);
  void fail_remaining_links(const Error& cause);
  // The failure of an edge of `link` at this end, if any.
  [[nodiscard]] std::optional<Error> failure_here(const Link& link) const;
  // This end failed the link (its endpoint is closed, so what the neighbour sends on it would
  // be lost): the neighbour and the rest of the ring are told at once.
  void fail_own_link(Link& link, const Error& cause);
  [[nodiscard]] Link& link_to(int peer);

  const int rank_;
  const std::chrono::milliseconds liveness_timeout_;
  ucx::Worker& worker_;
  liveness::Monitor* monitor_;
  std::vector<std::unique_ptr<Link>>& links_;
  std::array<ucx::UcxPipe*, 2> edges_;
  bool ring_broken_ = false;
  bool waited_for_explanation_ = false;
  std::atomic<bool> abort_requested_{false};  // set by request_abort() from any thread
  std::optional<liveness::Event> notice_;     // the first notice a neighbour sent
};

}  // namespace ringpipe::detail
