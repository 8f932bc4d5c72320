// The address a rank advertises for a named interface (RINGPIPE_IFNAME).
#include "rendezvous/socket.hpp"

#include <gtest/gtest.h>

namespace ringpipe::rendezvous {
namespace {

TEST(InterfaceAddress, LoopbackHasItsIpv4Address) {
  EXPECT_EQ(interface_address("lo", /*prefer_ipv6=*/false), "127.0.0.1");
}

TEST(InterfaceAddress, Ipv6IsPreferredOnlyWhereTheInterfaceHasIt) {
  const std::optional<std::string> address = interface_address("lo", /*prefer_ipv6=*/true);
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(*address == "::1" || *address == "127.0.0.1") << *address;
}

TEST(InterfaceAddress, AnUnknownInterfaceHasNone) {
  EXPECT_EQ(interface_address("nosuchif0", false), std::nullopt);
  EXPECT_EQ(interface_address("", false), std::nullopt);
}

}  // namespace
}  // namespace ringpipe::rendezvous
