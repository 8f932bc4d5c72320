// ringpipe: the UCX worker of one Ring and the one loop that waits on it.
#pragma once

#include <ringpipe/options.hpp>

#include "deadline.hpp"
#include "latency_clock.hpp"
#include "ucx/address_check.hpp"
#include "ucx/context.hpp"

#include <ucp/api/ucp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ringpipe::ucx {

// Owns a single-threaded ucp_worker, its address and its event fd. progress_until() is the only
// place that drives the worker, in each of the three progress modes.
class Worker {
 public:
  Worker(const Context& context, ProgressMode mode);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  [[nodiscard]] ucp_worker_h get() const noexcept { return worker_; }
  [[nodiscard]] const std::vector<std::byte>& address() const noexcept { return address_; }
  // Checks neighbours' addresses against this UCX's layout before UCX reads them.
  [[nodiscard]] const AddressCheck& address_check() const noexcept { return address_check_; }

  // Runs `hook` after a progress call during which a callback asked for it (the Ring handles
  // link failures and goodbyes there, outside UCX callbacks).
  void set_after_progress(std::function<void()> hook) { after_progress_ = std::move(hook); }

  // Work done beside UCX on every progress call (GPU mode's copies). It returns whether it did
  // anything and whether work is still pending that no UCX event will announce, in which case
  // waiting spins (yielding) instead of sleeping on the event fd.
  struct SideWork {
    bool did_work = false;
    bool pending = false;
  };
  void set_side_work(std::function<SideWork()> poll) {
    side_work_ = std::move(poll);
    side_pending_ = false;
  }

  // Progresses until done() is true (returns true) or the deadline passes (returns false).
  template <typename Done>
  bool progress_until(Done&& done, const detail::Deadline& deadline) {
    // The loop reads the TSC, a third of a steady_clock read in a VM; the deadline itself is
    // confirmed on steady_clock, so a TSC that drifts cannot end a wait early.
    TickDeadline ticks(deadline);
    std::uint64_t spin_until = kNever;  // adaptive: set at the first idle clock read
    unsigned polls = 0;
    unsigned idle_polls = 0;
    while (!done()) {
      const bool did_work = progress_once();
      if (done()) break;
      // Checked in busy rounds too, so a stream of other traffic cannot extend the wait; but
      // only every few rounds, since reading the clock costs about as much as a poll.
      const bool read_clock = ++polls % kPollsPerClockRead == 0;
      const std::uint64_t now = read_clock ? detail::LatencyClock::now() : 0;
      if (read_clock && ticks.expired(now, deadline)) return false;
      if (did_work) continue;
      if (mode_ == ProgressMode::Adaptive && !side_pending_ && read_clock) {
        if (spin_until == kNever) spin_until = now + adaptive_spin_ticks_;
        if (now >= spin_until) {
          wait_for_event(deadline);
          continue;
        }
      }
      if (mode_ == ProgressMode::Blocking && !side_pending_) {
        wait_for_event(deadline);
        continue;
      }
      // Spinning (busy poll, adaptive's spin, device work pending).
      if (++idle_polls >= kIdlePollsBeforeYield && idle_polls % kBusyPollsPerYield == 0) relax();
    }
    return true;
  }

  // Up to a clock read's worth of polls, reading no clock: a wait for a message already on
  // its way usually ends here, before it needs a deadline. True once done() is.
  template <typename Done>
  bool progress_briefly(Done&& done) {
    for (unsigned polls = 0; polls < kPollsPerClockRead; ++polls) {
      if (done()) return true;
      progress_once();
    }
    return done();
  }

  // One progress call (plus the after-progress hook); true if it did any work.
  bool progress_once();

  // Takes what the transports already hold (messages a neighbour sent before it died), without
  // running the hooks, so an after-progress hook may call it: progresses until `idle_polls`
  // polls in a row found nothing, or the deadline passes.
  void drain_arrivals(int idle_polls, const detail::Deadline& deadline);

  // Before a new operation is posted: applies what another thread queued with wake() (a
  // neighbour's failure, an abort), so the operation sees it. One relaxed load otherwise.
  void take_queued_events() {
    if (woken_.load(std::memory_order_relaxed)) progress_once();
  }

  // Called from UCX callbacks that need the after-progress hook to run.
  void request_after_progress() noexcept { hook_pending_ = true; }
  // The same from any other thread: also wakes a wait sleeping on the event fd.
  void wake() noexcept;

 private:
  // Spin before sleeping in adaptive mode: longer than a small message's round trip over shared
  // memory (~1 us), far shorter than a wake-up from sleep costs the CPU.
  static constexpr auto kAdaptiveSpin = std::chrono::microseconds(100);
  // Spinning still yields now and then: with more ranks than cores, a rank spinning on an
  // empty worker would otherwise hold the core its neighbour needs to send (8 ranks on 2
  // cores ran 10x slower without it). An idle poll costs ~0.05-0.1 us, a yield ~1 us: a
  // wait as short as a small message's round trip never yields (yields were a third of a
  // ping-pong's samples and its latency tail), a longer one every few microseconds.
  static constexpr unsigned kIdlePollsBeforeYield = 256;
  static constexpr unsigned kBusyPollsPerYield = 64;
  // Deadlines and adaptive's spin are read from the clock every this many polls (a clock read
  // in this VM costs about as much as a poll: it was a third of a ping-pong's samples).
  static constexpr unsigned kPollsPerClockRead = 16;

  static constexpr std::uint64_t kNever = ~std::uint64_t{0};

  // A deadline in LatencyClock ticks, checked against steady_clock once the ticks say it passed.
  class TickDeadline {
   public:
    explicit TickDeadline(const detail::Deadline& deadline);
    [[nodiscard]] bool expired(std::uint64_t now, const detail::Deadline& deadline) {
      if (now < at_) return false;
      at_ = 0;  // from here on every clock read asks steady_clock
      return deadline.expired();
    }

   private:
    std::uint64_t at_;
  };

  // Sleeps on the event fd until the worker has work or the deadline passes.
  void wait_for_event(const detail::Deadline& deadline);
  // Drains the wake-up fd and schedules the after-progress hook.
  void take_wake_up() noexcept;
  // Gives the core away while spinning, so oversubscribed ranks still run.
  static void relax() noexcept;

  ucp_worker_h worker_ = nullptr;
  std::vector<std::byte> address_;
  AddressCheck address_check_;
  int event_fd_ = -1;
  int wake_fd_ = -1;  // eventfd written by wake()
  std::atomic<bool> woken_{false};
  ProgressMode mode_;
  std::uint64_t adaptive_spin_ticks_;
  std::function<void()> after_progress_;
  std::function<SideWork()> side_work_;
  bool side_pending_ = false;
  bool hook_pending_ = false;
};

}  // namespace ringpipe::ucx
