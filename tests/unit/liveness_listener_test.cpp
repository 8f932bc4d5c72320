// The liveness listener while the ring forms: strangers that connect and stay silent, send
// garbage or claim the neighbour's rank without the secret never delay the real neighbour.
#include "liveness/monitor.hpp"
#include "net/socket.hpp"

#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

namespace ringpipe::liveness {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::array<std::byte, kSecretSize> kSecret = {std::byte{7}, std::byte{1}, std::byte{9}};

// Forms the liveness connection of a ring of two (rank 0 connects to rank 1) after `strangers`
// connected to rank 1's listener and did `behave` with their socket; returns how long rank 1
// took to accept its predecessor.
template <typename Behave>
Clock::duration formation_time_with(int strangers, Behave&& behave) {
  Monitor rank0("127.0.0.1", 0, 30s, [] {});
  Monitor rank1("127.0.0.1", 1, 30s, [] {});
  std::vector<net::Socket> crowd;
  for (int i = 0; i < strangers; ++i) {
    crowd.push_back(net::connect_to("127.0.0.1", rank1.port(), detail::Deadline(5s)));
    behave(crowd.back().fd(), i);
  }
  const detail::Deadline deadline(10s);
  const Neighbour to0{0, "127.0.0.1", rank0.port()};
  const Neighbour to1{1, "127.0.0.1", rank1.port()};
  std::thread connecting([&] { rank0.connect(2, to1, to1, kSecret, deadline); });
  const auto start = Clock::now();
  EXPECT_NO_THROW(rank1.connect(2, to0, to0, kSecret, deadline));
  const auto took = Clock::now() - start;
  connecting.join();
  return took;
}

void send_bytes(int fd, std::span<const std::byte> bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

TEST(LivenessListener, FiftySilentConnectionsDoNotDelayTheNeighbour) {
  EXPECT_LT(formation_time_with(50, [](int, int) {}), 1s);
}

TEST(LivenessListener, StrangersClaimingTheRankWithoutTheSecretOrSendingGarbageAreDropped) {
  const auto took = formation_time_with(50, [](int fd, int i) {
    if (i % 3 == 0) {
      Hello impostor;
      impostor.rank = 0;  // the predecessor's rank, without the secret
      send_bytes(fd, encode(impostor));
    } else if (i % 3 == 1) {
      const std::array<std::byte, kHelloSize> garbage{std::byte{0xff}, std::byte{0x13}};
      send_bytes(fd, garbage);
    } else {
      const auto hello = encode(Hello{0, 30s, kSecret});
      send_bytes(fd, std::span(hello).first(kHelloSize / 2));  // half a Hello, then silence
    }
  });
  EXPECT_LT(took, 1s);
}

TEST(LivenessListener, AFloodBeyondTheCapStillLetsTheNeighbourIn) {
  EXPECT_LT(formation_time_with(300, [](int, int) {}), 2s);
}

}  // namespace
}  // namespace ringpipe::liveness
