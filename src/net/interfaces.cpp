// ringpipe: this host's network interfaces, their addresses, and the ones a RINGPIPE_IFNAME
// spec selects.
#include "net/interfaces.hpp"

#include <ringpipe/error.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <algorithm>

namespace ringpipe::net {
namespace {

std::vector<std::string_view> split_on_commas(std::string_view list) {
  std::vector<std::string_view> entries;
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view entry = list.substr(0, comma);
    if (!entry.empty()) entries.push_back(entry);
    if (comma == std::string_view::npos) return entries;
    list.remove_prefix(comma + 1);
  }
}

// "a, b, c": names in a message.
std::string listed(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

bool is_ucx_device(std::string_view entry) { return entry.find(':') != std::string_view::npos; }

void add_once(std::vector<std::string>& names, std::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
}

}  // namespace

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

std::vector<std::string> usable_interfaces() {
  std::vector<std::string> names;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return names;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || (entry->ifa_flags & IFF_UP) == 0) continue;
    const int family = entry->ifa_addr->sa_family;
    if (family == AF_INET || family == AF_INET6) add_once(names, entry->ifa_name);
  }
  freeifaddrs(list);
  return names;
}

std::vector<std::string> select_interfaces(std::string_view spec,
                                           const std::vector<std::string>& interfaces) {
  const bool exclude = !spec.empty() && spec.front() == '^';
  if (exclude) spec.remove_prefix(1);
  const bool exact = !spec.empty() && spec.front() == '=';
  if (exact) spec.remove_prefix(1);
  const std::vector<std::string_view> entries = split_on_commas(spec);

  const auto matches = [&](std::string_view name) {
    return std::any_of(entries.begin(), entries.end(), [&](std::string_view entry) {
      return exact ? name == entry : name.substr(0, entry.size()) == entry;
    });
  };
  std::vector<std::string> selected;
  for (const std::string& name : interfaces) {
    if (matches(name) != exclude) add_once(selected, name);
  }
  if (!exclude) {
    for (std::string_view entry : entries) {
      if (is_ucx_device(entry)) add_once(selected, entry);
    }
  }
  return selected;
}

std::vector<std::string> resolve_interfaces(const std::string& spec) {
  const std::vector<std::string> interfaces = usable_interfaces();
  std::vector<std::string> selected = select_interfaces(spec, interfaces);
  if (selected.empty()) {
    throw Error(Errc::InvalidArgument,
                "ifname \"" + spec +
                    "\" (RINGPIPE_IFNAME) selects no interface of this host (interfaces that are "
                    "up with an IP "
                    "address: " +
                    (interfaces.empty() ? "none" : listed(interfaces)) +
                    "; the forms are \"eth,ib\" for name prefixes, \"^docker,lo\" to exclude, "
                    "\"=eth0\" for exact names, \"mlx5_0:1\" for a UCX device)");
  }
  return selected;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ",") + name;
  return joined;
}

}  // namespace ringpipe::net
