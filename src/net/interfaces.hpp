// ringpipe: the addresses of this host's network interfaces.
#pragma once

#include <optional>
#include <string>

namespace ringpipe::net {

// The numeric IPv4 (or, with `want_ipv6`, IPv6) address of network interface `name` ("eth0");
// IPv6 link-local addresses are skipped (they need a scope to be reached). nullopt if there is
// no such interface or it has no address of that family.
std::optional<std::string> interface_address(const std::string& name, bool want_ipv6);

}  // namespace ringpipe::net
