// ringpipe: rank 0 hosts the rendezvous on a thread while its Ring is being built.
#include "rendezvous/hosted.hpp"

#include "net/socket.hpp"
#include "ringpipe_config.hpp"

#include <algorithm>

namespace ringpipe::rendezvous {
namespace {

net::Socket listener_for(const Options& options) {
  return options.listen_fd >= 0 ? net::adopt_listener(options.listen_fd, options.port)
                                : net::listen_on(options.head, options.port, options.port_origin);
}

}  // namespace

HostedRendezvous::HostedRendezvous(const Options& options, const detail::Deadline& deadline)
    : server_(listener_for(options),
              ServerConfig{options.world_size, options.job_id,
                           static_cast<std::uint8_t>(options.comm_device), RINGPIPE_VERSION,
                           std::min(options.rendezvous_timeout, std::chrono::milliseconds(10000)),
                           options.token}),
      thread_([this, deadline] {
        try {
          server_.run(deadline, stop_);
        } catch (...) {
          failure_ = std::current_exception();
        }
      }) {}

HostedRendezvous::~HostedRendezvous() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void HostedRendezvous::finish() {
  thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace ringpipe::rendezvous
