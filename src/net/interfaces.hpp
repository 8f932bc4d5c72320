// ringpipe: this host's network interfaces, their addresses, and the ones a RINGPIPE_IFNAME
// spec selects.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringpipe::net {

// The numeric IPv4 (or, with `want_ipv6`, IPv6) address of network interface `name` ("eth0");
// IPv6 link-local addresses are skipped (they need a scope to be reached). nullopt if there is
// no such interface or it has no address of that family.
std::optional<std::string> interface_address(const std::string& name, bool want_ipv6);

// The interfaces of this host that are up and have an IP address, in the kernel's order: the
// ones a ring could use, as NCCL counts them.
std::vector<std::string> usable_interfaces();

// What `spec` selects among `interfaces`, in NCCL_SOCKET_IFNAME's forms: "eth,ib" the names
// starting with eth or ib, "^docker,lo" all but the names starting so, "=eth0,ib0" exactly
// those names ("^=" excludes exact names). An entry holding ':' names a UCX device that is no
// network interface (an InfiniBand port such as "mlx5_0:1"): it is kept as it is, after the
// interfaces. Empty when the spec selects nothing.
std::vector<std::string> select_interfaces(std::string_view spec,
                                           const std::vector<std::string>& interfaces);

// The devices `spec` selects on this host (see select_interfaces). Throws
// Error{InvalidArgument} naming the spec and the usable interfaces when it selects none.
std::vector<std::string> resolve_interfaces(const std::string& spec);

// "a,b,c": the form UCX_NET_DEVICES and messages take.
std::string join_names(const std::vector<std::string>& names);

}  // namespace ringpipe::net
