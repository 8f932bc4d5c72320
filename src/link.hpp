// ringpipe: one neighbour of a ring: the endpoint to it, its orderly close and how it ended.
#pragma once

#include <ringpipe/error.hpp>

#include "ucx/endpoint.hpp"
#include "ucx/goodbye.hpp"

#include <memory>
#include <optional>
#include <string>

namespace ringpipe::detail {

struct Link {
  int peer = 0;
  std::string host;
  std::unique_ptr<ucx::Endpoint> endpoint;
  std::unique_ptr<ucx::Goodbye> goodbye;  // after the endpoint: destroyed before it
  bool reported = false;                  // its close or failure has been applied to the edges
  std::optional<Error> lost;              // the liveness monitor's verdict: died or stalled

  [[nodiscard]] bool goodbye_received() const noexcept { return goodbye && goodbye->received(); }
  // "rank 3 (host-a)", for messages.
  [[nodiscard]] std::string describe() const {
    return "rank " + std::to_string(peer) + " (" + host + ")";
  }
};

}  // namespace ringpipe::detail
