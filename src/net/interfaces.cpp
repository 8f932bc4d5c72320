// ringpipe: the addresses of this host's network interfaces.
#include "net/interfaces.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

namespace ringpipe::net {

std::optional<std::string> interface_address(const std::string& name, bool want_ipv6) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> ipv4, ipv6;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || name != entry->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (entry->ifa_addr->sa_family == AF_INET && !ipv4) {
      const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr) ipv4 = text;
    } else if (entry->ifa_addr->sa_family == AF_INET6 && !ipv6) {
      const auto* address = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      if (!IN6_IS_ADDR_LINKLOCAL(&address->sin6_addr) &&
          inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof text) != nullptr) {
        ipv6 = text;
      }
    }
  }
  freeifaddrs(list);
  return want_ipv6 ? ipv6 : ipv4;
}

}  // namespace ringpipe::net
