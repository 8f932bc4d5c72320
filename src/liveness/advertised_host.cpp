// ringpipe: the address at which neighbours reach this rank's liveness listener.
#include "liveness/advertised_host.hpp"

#include "log.hpp"
#include "net/host.hpp"
#include "net/interfaces.hpp"

#include <vector>

namespace ringpipe::liveness {
namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" ||
         host.rfind("::ffff:127.", 0) == 0;
}

}  // namespace

std::string advertised_host(const Options& options, const std::string& local) {
  if (!options.ifname.empty()) {
    // Of the family the listener serves: the one this rank reached the head by.
    const bool ipv6 = local.find(':') != std::string::npos;
    const std::vector<std::string> devices = net::resolve_interfaces(options.ifname);
    for (const std::string& device : devices) {
      if (auto address = net::interface_address(device, ipv6)) return *address;
    }
    // No network interface of this host (UCX also takes device names such as mlx5_0:1).
    detail::log(LogLevel::Info, "interface " + net::join_names(devices) + " has no " +
                                    (ipv6 ? "IPv6" : "IPv4") +
                                    " address here; neighbours check this rank's liveness over the "
                                    "network it reached the head by");
  }
  if (!is_loopback(local) || is_loopback(options.head)) return local;
  return net::host_name();
}

}  // namespace ringpipe::liveness
