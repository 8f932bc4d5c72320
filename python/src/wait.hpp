// ringpipe Python: waiting for a request with the GIL released and Ctrl-C served.
#pragma once

#include "ring_handle.hpp"

#include <ringpipe/request.hpp>

#include <pybind11/pybind11.h>

#include <chrono>
#include <optional>

namespace ringpipe::python {

namespace py = pybind11;

// A Python timeout in seconds or a datetime.timedelta (None: the ring's operation timeout;
// math.inf: no deadline).
// Negative or NaN is Error{InvalidArgument}.
std::optional<std::chrono::milliseconds> to_timeout(const py::object& seconds);
std::chrono::milliseconds seconds_to_timeout(double seconds, const char* what);

// Waits until `request` completes or `timeout` (default: the ring's operation timeout)
// passes, then acts as Request::wait: returns, or throws the operation's error or
// Error{Timeout} (a timed-out receive is cancelled, a timed-out send fails its link). The GIL
// is released and the ring's lock taken only for slices of the wait, between which Python's
// signal handlers run: a handler that raises (Ctrl-C: KeyboardInterrupt) ends the wait with
// py::error_already_set, leaving the request pending. Call with the GIL held.
void wait_interruptible(RingHandle& handle, Request& request,
                        std::optional<std::chrono::milliseconds> timeout);

}  // namespace ringpipe::python
