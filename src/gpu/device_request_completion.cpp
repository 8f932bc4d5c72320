// ringpipe: what the owner of a GPU-mode operation's Request calls (test, wait, release), and
// the Ring's close cutting the operation loose (detach).
#include "gpu/device_request.hpp"

#include "gpu/device_pipe.hpp"
#include "gpu/engine.hpp"
#include "log.hpp"

namespace ringpipe::gpu {
namespace {

// How long a cancelled or abandoned operation may take to settle before its edge is failed.
constexpr auto kSettleTimeout = std::chrono::milliseconds(2000);

}  // namespace

bool DeviceRequest::finish_by(const detail::Deadline& deadline) {
  return engine_->worker().progress_until([this] { return stage_ == Stage::Done; }, deadline);
}

bool DeviceRequest::test() {
  if (stage_ != Stage::Done && engine_ != nullptr) engine_->worker().progress_once();
  if (stage_ != Stage::Done) {
    if (engine_ == nullptr) throw_failure();
    return false;
  }
  if (error_) throw_failure();
  return true;
}

void DeviceRequest::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (stage_ != Stage::Done && engine_ != nullptr) {
    const detail::Deadline deadline(timeout.value_or(pipe_->host().op_timeout()));
    if (!finish_by(deadline)) {
      const Error expired(Errc::Timeout, describe_operation() + " timed out after " +
                                             detail::format_seconds(deadline.elapsed_s()));
      if (kind_ == Kind::Send) {
        // The receiver may be copying from the buffer; failing the edge tells it to stop
        // trusting this rank, and completes the host messages.
        fail_edge(expired);
      } else if (through_ucx_ && message_ == nullptr) {
        finish(expired);  // still waiting for its stream: nothing was handed to UCX
      } else if ((stage_ == Stage::Posted || through_ucx_) && message_ != nullptr) {
        message_->cancel_with(expired);
      }
      (void)finish_by(detail::Deadline(kSettleTimeout));
      if (stage_ != Stage::Done) {
        // A copy still queued behind the stream's work: it completes in stream order; the
        // sender must not wait for a reply that may never come.
        fail_edge(expired);
        throw expired;
      }
      // A receive that matched while being cancelled has its data: that is a success;
      // otherwise the timeout is the cause, whatever cancelling it made the messages say.
      if (error_) error_ = expired;
    }
  }
  if (stage_ != Stage::Done || error_) throw_failure();
}

bool DeviceRequest::wait_for(std::chrono::milliseconds timeout) {
  if (stage_ != Stage::Done && engine_ != nullptr && !finish_by(detail::Deadline(timeout))) {
    return false;
  }
  if (stage_ != Stage::Done || error_) throw_failure();
  return true;
}

void DeviceRequest::release() noexcept {
  if (engine_ == nullptr) {
    delete this;  // detached from a Ring that is gone
    return;
  }
  if (stage_ != Stage::Done) {
    try {
      if (kind_ == Kind::Send) {
        // As in CPU mode: the receiver gets the operation timeout (or the unwinding grace).
        if (!finish_by(detail::Deadline(detail::dropped_send_grace(pipe_->host().op_timeout())))) {
          fail_edge(Error(Errc::Timeout, describe_operation() + " was dropped unfinished"));
          (void)finish_by(detail::Deadline(kSettleTimeout));
        }
      } else if (stage_ == Stage::Posted || through_ucx_) {
        dropped_ = true;
        if (message_ != nullptr) {
          message_->cancel_with(Error(Errc::Closed, describe_operation() + " was dropped"));
        }
        (void)finish_by(detail::Deadline(kSettleTimeout));
      }
    } catch (const std::exception& error) {
      detail::log(detail::LogLevel::Error, error.what());
    }
  }
  if (stage_ != Stage::Done) {
    released_ = true;  // the engine recycles it once it settles
    return;
  }
  engine_->recycle(this);
}

void DeviceRequest::detach() noexcept {
  if (copy_in_flight_) {
    // The mapping it reads must not be closed under the copy.
    const detail::Deadline deadline(kSettleTimeout);
    while (copy_in_flight_ && !deadline.expired()) pipe_->copies().reap();
  }
  if (stage_ != Stage::Done) {
    finish(Error(Errc::Closed, describe_operation() + ": the ring was closed"));
  }
  engine_ = nullptr;
  pipe_ = nullptr;
}

void DeviceRequest::throw_failure() const {
  if (error_) throw *error_;
  throw Error(Errc::Closed, describe_operation() + ": the ring was closed");
}

}  // namespace ringpipe::gpu
