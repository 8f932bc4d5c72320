// RINGPIPE_IFNAME in NCCL_SOCKET_IFNAME's forms: which of a host's interfaces a spec selects.
#include "net/interfaces.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "env_guard.hpp"
#include "invalid_argument.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ringpipe::net {
namespace {

using Names = std::vector<std::string>;
using test::contains;
using test::invalid_argument_message;
using test::OptionsFromEnv;
using test::set_env;

const Names kHost = {"lo", "eth0", "eth1", "ib0", "docker0", "data0", "data01"};

TEST(InterfaceSelection, APlainNameIsAPrefix) {
  EXPECT_EQ(select_interfaces("lo", kHost), (Names{"lo"}));
  EXPECT_EQ(select_interfaces("eth", kHost), (Names{"eth0", "eth1"}));
  EXPECT_EQ(select_interfaces("data0", kHost), (Names{"data0", "data01"}));
}

TEST(InterfaceSelection, CommasListSeveralPrefixesInTheHostsOrder) {
  EXPECT_EQ(select_interfaces("ib,eth", kHost), (Names{"eth0", "eth1", "ib0"}));
}

TEST(InterfaceSelection, ACaretExcludes) {
  EXPECT_EQ(select_interfaces("^docker,lo", kHost),
            (Names{"eth0", "eth1", "ib0", "data0", "data01"}));
  EXPECT_EQ(select_interfaces("^eth,ib,docker,data", kHost), (Names{"lo"}));
}

TEST(InterfaceSelection, AnEqualsSignAsksForExactNames) {
  EXPECT_EQ(select_interfaces("=data0", kHost), (Names{"data0"}));
  EXPECT_EQ(select_interfaces("=eth0,ib0", kHost), (Names{"eth0", "ib0"}));
  EXPECT_EQ(select_interfaces("=eth", kHost), Names{});
  EXPECT_EQ(select_interfaces("^=data0,lo", kHost),
            (Names{"eth0", "eth1", "ib0", "docker0", "data01"}));
}

// UCX also takes device names that are no network interface (an InfiniBand port).
TEST(InterfaceSelection, AUcxDeviceNamePassesThrough) {
  EXPECT_EQ(select_interfaces("mlx5_0:1", kHost), (Names{"mlx5_0:1"}));
  EXPECT_EQ(select_interfaces("=eth0,mlx5_1:1", kHost), (Names{"eth0", "mlx5_1:1"}));
  EXPECT_EQ(select_interfaces("mlx5_0:1", Names{}), (Names{"mlx5_0:1"}));
}

TEST(InterfaceSelection, ASpecThatMatchesNothingSelectsNothing) {
  EXPECT_EQ(select_interfaces("wlan", kHost), Names{});
  EXPECT_EQ(select_interfaces("^lo,eth,ib,docker,data", kHost), Names{});
  EXPECT_EQ(select_interfaces("eth", Names{}), Names{});
}

TEST(InterfaceSelection, EachInterfaceIsSelectedOnce) {
  EXPECT_EQ(select_interfaces("eth,eth0,=eth0", kHost), (Names{"eth0", "eth1"}));
}

// This host: lo is up with 127.0.0.1 wherever the tests run.
TEST(InterfaceSelection, ThisHostsLoopbackIsUsable) {
  const Names here = usable_interfaces();
  EXPECT_NE(std::find(here.begin(), here.end(), "lo"), here.end()) << join_names(here);
  EXPECT_EQ(resolve_interfaces("lo"), (Names{"lo"}));
  EXPECT_EQ(resolve_interfaces("=lo"), (Names{"lo"}));
}

TEST(InterfaceSelection, ASpecThatSelectsNothingHereNamesItAndTheInterfaces) {
  const std::string message = invalid_argument_message([] { resolve_interfaces("=nosuchif0"); });
  EXPECT_TRUE(contains(message, "\"=nosuchif0\"")) << message;
  EXPECT_TRUE(contains(message, "lo")) << message;
}

TEST_F(OptionsFromEnv, IfnameTakesNcclsForms) {
  for (const char* spec : {"lo", "eth,ib", "^docker,lo", "=eth0", "=eth0,ib0", "^=docker0",
                           "mlx5_0:1", "enp65s0f0np0,enp65s0f1np1"}) {
    set_env("RINGPIPE_IFNAME", spec);
    EXPECT_EQ(Options::from_env().ifname, spec);
  }
}

TEST_F(OptionsFromEnv, IfnameWithAnEmptyOrOverlongEntryIsInvalidArgument) {
  for (const char* spec : {"^", "=", "^=", "eth,", ",eth", "eth,,ib", "=eth0,abcdefghijklmnop"}) {
    set_env("RINGPIPE_IFNAME", spec);
    const std::string message = invalid_argument_message([] { Options::from_env(); });
    EXPECT_TRUE(contains(message, std::string("RINGPIPE_IFNAME=\"") + spec + "\"")) << message;
  }
}

}  // namespace
}  // namespace ringpipe::net
