// ringpipe: rank 0 hosts the rendezvous on a thread while its Ring is being built.
#pragma once

#include <ringpipe/options.hpp>

#include "deadline.hpp"
#include "rendezvous/server.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>

namespace ringpipe::rendezvous {

class HostedRendezvous {
 public:
  // Serves on the socket the options name (an adopted listener, or one bound to the head's
  // address and port) until every rank is released or `deadline` passes.
  HostedRendezvous(const Options& options, const detail::Deadline& deadline);
  HostedRendezvous(const HostedRendezvous&) = delete;
  HostedRendezvous& operator=(const HostedRendezvous&) = delete;
  // Stops serving (if finish() was not reached) and joins the thread.
  ~HostedRendezvous();

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }

  // Waits for the server to finish; rethrows its failure.
  void finish();

 private:
  RendezvousServer server_;
  std::atomic<bool> stop_{false};
  std::exception_ptr failure_;
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace ringpipe::rendezvous
