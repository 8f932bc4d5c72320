// ringpipe: the UCX context of one Ring.
#pragma once

#include <ucp/api/ucp.h>

#include <chrono>
#include <string>

namespace ringpipe::ucx {

// Owns a ucp_context with the tag and wakeup features, configured with ringpipe's defaults
// (see README "UCX configuration"): a UCX_* variable set by the user always wins.
class Context {
 public:
  // `interface_spec` (RINGPIPE_IFNAME's forms, "" = UCX's choice) restricts network transports
  // to the devices it selects here, or throws Error{InvalidArgument} if it selects none; a
  // neighbour that died is detected within about `liveness_timeout`.
  Context(const std::string& interface_spec, std::chrono::milliseconds liveness_timeout);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();

  [[nodiscard]] ucp_context_h get() const noexcept { return context_; }
  // True if this UCX build can move CUDA memory itself (Debian's cannot).
  [[nodiscard]] bool supports_cuda_memory() const;

 private:
  ucp_context_h context_ = nullptr;
};

}  // namespace ringpipe::ucx
