// ringpipe: a UCX endpoint to one neighbour.
#pragma once

#include "deadline.hpp"
#include "ucx/worker.hpp"

#include <ucp/api/ucp.h>

#include <cstddef>
#include <string>
#include <vector>

namespace ringpipe::ucx {

// Throws InvalidArgument naming `peer_rank` if UCX could not safely read `remote_address`.
void check_peer_address(const Worker& worker, const std::vector<std::byte>& remote_address,
                        int peer_rank);

// Owns a ucp_ep created in error handling mode PEER. A broken connection is recorded (from the
// UCX callback) and reported through failed()/failure(); the Ring reacts after progress.
class Endpoint {
 public:
  Endpoint(Worker& worker, const std::vector<std::byte>& remote_address, int peer_rank);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  // Closes without waiting for the peer (call flush() first for an orderly close).
  ~Endpoint();

  [[nodiscard]] ucp_ep_h get() const noexcept { return endpoint_; }
  [[nodiscard]] int peer() const noexcept { return peer_; }
  [[nodiscard]] Worker& worker() const noexcept { return worker_; }
  [[nodiscard]] bool failed() const noexcept { return failure_ != UCS_OK; }
  [[nodiscard]] ucs_status_t failure() const noexcept { return failure_; }

  // Waits until every operation started on this endpoint has completed at the peer. Returns
  // false if the endpoint failed, or if the deadline passed (the endpoint is then closed by
  // force, which ends the flush).
  bool flush(const detail::Deadline& deadline);

  // Closes the endpoint now, without flushing: UCX completes its pending sends with an error.
  // The endpoint then counts as failed. Idempotent.
  void close_by_force() noexcept;

  // The transports UCX chose for this endpoint, e.g. {"sysv/memory", "cma/memory"}; none once
  // closed (or if UCX's description could not be read).
  [[nodiscard]] std::vector<std::string> transport_names() const;
  // The same as one string for messages: "sysv/memory, cma/memory", "closed" or "unknown".
  [[nodiscard]] std::string transports() const;

 private:
  static void on_error(void* arg, ucp_ep_h endpoint, ucs_status_t status);

  Worker& worker_;
  ucp_ep_h endpoint_ = nullptr;
  int peer_;
  ucs_status_t failure_ = UCS_OK;
};

}  // namespace ringpipe::ucx
