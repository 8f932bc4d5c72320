// ringpipe: the UCX worker of one Ring.
#include "ucx/worker.hpp"

#include "ucx/status.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace ringpipe::ucx {
namespace {

// Sleeps are cut into slices so a wake-up lost by a transport costs at most this much.
constexpr int kSleepSliceMs = 100;

}  // namespace

Worker::TickDeadline::TickDeadline(const detail::Deadline& deadline) : at_(kNever) {
  if (deadline.budget() == detail::Clock::duration::max()) return;
  const std::chrono::duration<double, std::nano> left = deadline.at() - detail::Clock::now();
  const double ticks = left.count() / detail::LatencyClock::ns_per_tick();
  at_ = ticks <= 0 ? 0 : detail::LatencyClock::now() + static_cast<std::uint64_t>(ticks);
}

Worker::Worker(const Context& context, ProgressMode mode)
    : mode_(mode),
      adaptive_spin_ticks_(static_cast<std::uint64_t>(
          std::chrono::duration<double, std::nano>(kAdaptiveSpin).count() /
          detail::LatencyClock::ns_per_tick())) {
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SINGLE;
  check(ucp_worker_create(context.get(), &params, &worker_), "cannot create a UCX worker");

  ucp_address_t* address = nullptr;
  std::size_t length = 0;
  const ucs_status_t status = ucp_worker_get_address(worker_, &address, &length);
  if (status != UCS_OK) {
    ucp_worker_destroy(worker_);
    check(status, "cannot get the UCX worker address");
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(address);
  address_.assign(bytes, bytes + length);
  ucp_worker_release_address(worker_, address);
  address_check_ = AddressCheck(address_);

  const ucs_status_t efd_status = ucp_worker_get_efd(worker_, &event_fd_);
  if (efd_status != UCS_OK) {
    ucp_worker_destroy(worker_);
    check(efd_status, "cannot get the UCX worker event fd");
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ucp_worker_destroy(worker_);
    throw Error(Errc::Internal, "cannot create the worker's wake-up eventfd");
  }
}

Worker::~Worker() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
}

void Worker::wake() noexcept {
  // The fd first: whoever sees the flag then drains a write that has already happened, so the
  // fd is never left readable with the flag down (a sleeping wait would then spin).
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // The counter is saturated: a wake-up is already pending.
  }
  woken_.store(true, std::memory_order_release);
}

void Worker::take_wake_up() noexcept {
  std::uint64_t count = 0;
  if (::read(wake_fd_, &count, sizeof count) < 0) {
    // Already drained by the other reader of the fd.
  }
  hook_pending_ = true;
}

bool Worker::progress_once() {
  bool did_work = ucp_worker_progress(worker_) != 0;
  // One relaxed load per poll; the exchange only when another thread has woken us.
  if (woken_.load(std::memory_order_relaxed) && woken_.exchange(false)) {
    take_wake_up();
    did_work = true;
  }
  if (hook_pending_) {
    hook_pending_ = false;
    if (after_progress_) after_progress_();
  }
  if (side_work_) {
    const SideWork side = side_work_();
    side_pending_ = side.pending;
    did_work = did_work || side.did_work;
  }
  return did_work;
}

void Worker::drain_arrivals(int idle_polls, const detail::Deadline& deadline) {
  int idle = 0;
  while (idle < idle_polls && !deadline.expired()) {
    idle = ucp_worker_progress(worker_) != 0 ? 0 : idle + 1;
  }
}

void Worker::wait_for_event(const detail::Deadline& deadline) {
  // UCS_ERR_BUSY: events arrived between the last progress and arming; progress again.
  if (ucp_worker_arm(worker_) == UCS_ERR_BUSY) return;
  pollfd entries[2] = {{event_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  const int rc = poll(entries, 2, deadline.remaining_ms(kSleepSliceMs));
  // Whatever the flag says, the waker queued something.
  if (rc > 0 && (entries[1].revents & POLLIN) != 0) take_wake_up();
  if (rc < 0 && errno != EINTR) {
    throw Error(Errc::Internal, "waiting on the UCX event fd failed");
  }
}

void Worker::relax() noexcept { sched_yield(); }

}  // namespace ringpipe::ucx
