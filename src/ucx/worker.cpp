// ringpipe: the UCX worker of one Ring.
#include "ucx/worker.hpp"

#include "ucx/status.hpp"

#include <poll.h>
#include <sched.h>

#include <cerrno>

namespace ringpipe::ucx {
namespace {

// Sleeps are cut into slices so a wake-up lost by a transport costs at most this much.
constexpr int kSleepSliceMs = 100;

}  // namespace

Worker::Worker(const Context& context, ProgressMode mode) : mode_(mode) {
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

  const ucs_status_t efd_status = ucp_worker_get_efd(worker_, &event_fd_);
  if (efd_status != UCS_OK) {
    ucp_worker_destroy(worker_);
    check(efd_status, "cannot get the UCX worker event fd");
  }
}

Worker::~Worker() {
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
}

bool Worker::progress_once() {
  bool did_work = ucp_worker_progress(worker_) != 0;
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

void Worker::wait_for_event(const detail::Deadline& deadline) {
  // UCS_ERR_BUSY: events arrived between the last progress and arming; progress again.
  if (ucp_worker_arm(worker_) == UCS_ERR_BUSY) return;
  pollfd entry{event_fd_, POLLIN, 0};
  const int rc = poll(&entry, 1, deadline.remaining_ms(kSleepSliceMs));
  if (rc < 0 && errno != EINTR) {
    throw Error(Errc::Internal, "waiting on the UCX event fd failed");
  }
}

void Worker::relax() noexcept { sched_yield(); }

}  // namespace ringpipe::ucx
