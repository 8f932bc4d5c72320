// A neighbour's UCX worker address is checked before UCX reads it: real addresses pass, and
// random or truncated bytes are refused or read by UCX without aborting the process.
#include "ucx/address_check.hpp"
#include "ucx/context.hpp"
#include "ucx/endpoint.hpp"
#include "ucx/worker.hpp"

#include "expect_error.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/request.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace ringpipe::ucx {
namespace {

using Bytes = std::vector<std::byte>;

constexpr int kTries = 2000;

class AddressCheckTest : public ::testing::Test {
 protected:
  Context context_{"", kInfinite};
  Worker worker_{context_, ProgressMode::Blocking};

  // UCX accepts the address, or the endpoint fails with an Error naming the rank (ringpipe's
  // check, or UCX finding no transport or shared memory segment behind it). An abort inside
  // UCX ends this process and fails the test.
  void expect_clean_outcome(const Bytes& address) {
    try {
      Endpoint endpoint(worker_, address, 7);
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("rank 7"), std::string::npos) << error.what();
    }
  }
};

TEST_F(AddressCheckTest, ThisWorkersOwnAddressPasses) {
  EXPECT_EQ(worker_.address_check().defect(worker_.address()), std::nullopt);
}

TEST_F(AddressCheckTest, AnUnknownVersionIsRefusedNamingIt) {
  Bytes address(300, std::byte{0x5a});  // version 10
  const auto defect = worker_.address_check().defect(address);
  ASSERT_TRUE(defect.has_value());
  EXPECT_NE(defect->find("version 10"), std::string::npos) << *defect;
  test::expect_error(Errc::InvalidArgument, "rank 3 sent a UCX worker address",
                     [&] { Endpoint endpoint(worker_, address, 3); });
}

TEST_F(AddressCheckTest, TruncatedRealAddressesAreRefused) {
  const Bytes& own = worker_.address();
  for (std::size_t size = 0; size + 1 < own.size(); ++size) {
    const Bytes prefix(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_TRUE(worker_.address_check().defect(prefix).has_value()) << size << " bytes";
  }
}

TEST_F(AddressCheckTest, RandomBytesNeverAbortTheProcess) {
  std::mt19937_64 random(2024);
  int passed = 0;
  for (int i = 0; i < kTries; ++i) {
    Bytes address(1 + random() % 400);
    for (std::byte& b : address) b = static_cast<std::byte>(random());
    // Most get past the version, to exercise the rest of the walk.
    if (i % 4 != 0) address[0] = static_cast<std::byte>((random() & 0xf0) | (random() % 2));
    if (!worker_.address_check().defect(address)) ++passed;
    expect_clean_outcome(address);
  }
  std::printf("%d of %d random addresses passed the check and were read by UCX\n", passed, kTries);
}

}  // namespace
}  // namespace ringpipe::ucx
