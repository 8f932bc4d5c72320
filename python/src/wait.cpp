// ringpipe Python: waiting for a request with the GIL released and Ctrl-C served.
#include "wait.hpp"

#include "deadline.hpp"

#include <ringpipe/error.hpp>

#include <cmath>
#include <string>

namespace ringpipe::python {
namespace {

// How often a wait looks at Python's signals: Ctrl-C is served within this.
constexpr int kSignalSliceMs = 50;

// The C++ timeout rules on a request whose Python deadline passed; the message states the
// whole wait, not the last slice.
void expire(Request& request, const detail::Deadline& deadline) {
  try {
    request.wait(std::chrono::milliseconds(0));
  } catch (const Error& error) {
    const std::string message(error.message());
    const auto at = message.find(" timed out after ");
    if (error.code() != Errc::Timeout || at == std::string::npos) throw;
    throw Error(Errc::Timeout, message.substr(0, at) + " timed out after " +
                                   detail::format_seconds(deadline.elapsed_s()));
  }
}

}  // namespace

std::chrono::milliseconds seconds_to_timeout(double seconds, const char* what) {
  if (std::isnan(seconds) || seconds < 0) {
    throw Error(Errc::InvalidArgument, std::string(what) +
                                           " must be a number of seconds >= 0 "
                                           "(math.inf: no deadline), not " +
                                           std::to_string(seconds));
  }
  if (std::isinf(seconds) || seconds * 1000 >= static_cast<double>(kInfinite.count())) {
    return kInfinite;
  }
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
}

std::optional<std::chrono::milliseconds> to_timeout(const py::object& seconds) {
  if (seconds.is_none()) return std::nullopt;
  if (py::hasattr(seconds, "total_seconds")) {  // a datetime.timedelta, as torch takes
    return seconds_to_timeout(seconds.attr("total_seconds")().cast<double>(), "timeout");
  }
  return seconds_to_timeout(seconds.cast<double>(), "timeout");
}

void wait_interruptible(RingHandle& handle, Request& request,
                        std::optional<std::chrono::milliseconds> timeout) {
  {
    RingLock lock(handle);
    if (request.test()) return;  // already done: no GIL round trip
  }
  const detail::Deadline deadline(timeout.value_or(handle.options().op_timeout));
  for (;;) {
    bool done = false;
    {
      py::gil_scoped_release release;
      std::lock_guard lock(handle.mutex());
      const int slice_ms = deadline.remaining_ms(kSignalSliceMs);
      if (slice_ms == 0) {
        expire(request, deadline);
        return;
      }
      done = request.wait_for(std::chrono::milliseconds(slice_ms));
    }
    if (done) return;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

}  // namespace ringpipe::python
