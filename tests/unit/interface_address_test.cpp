// The address a rank advertises for a named interface (RINGPIPE_IFNAME).
#include "net/interfaces.hpp"

#include <gtest/gtest.h>

namespace ringpipe::net {
namespace {

TEST(InterfaceAddress, LoopbackHasItsIpv4Address) {
  EXPECT_EQ(interface_address("lo", /*want_ipv6=*/false), "127.0.0.1");
}

// The liveness listener serves one family: an address of the other would be unreachable.
TEST(InterfaceAddress, OnlyTheFamilyAskedForIsGiven) {
  const std::optional<std::string> address = interface_address("lo", /*want_ipv6=*/true);
  if (address) {
    EXPECT_EQ(*address, "::1");
  }  // else: lo has no IPv6 address here
}

TEST(InterfaceAddress, AnUnknownInterfaceHasNone) {
  EXPECT_EQ(interface_address("nosuchif0", false), std::nullopt);
  EXPECT_EQ(interface_address("", false), std::nullopt);
}

}  // namespace
}  // namespace ringpipe::net
