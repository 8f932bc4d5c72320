// Neighbours that close their ring while traffic is pending: Closed, promptly, and only after
// every message they sent.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "fault_support.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace ringpipe {
namespace {

using namespace std::chrono_literals;

TEST(PeerFailure, PendingSendToANeighbourThatClosesFailsWithClosedPromptly) {
  test::run_ring(2, [](Ring& ring) {
    std::uint8_t ready = 0;
    if (ring.rank() == 1) {
      ring.pred().recv(&ready, sizeof ready);
      return;  // closes without receiving the large message
    }
    std::vector<std::uint8_t> large(16 << 20);
    Request pending = ring.succ().isend(large.data(), large.size(), 3);
    ring.succ().send(&ready, sizeof ready);
    test::expect_error_within(Errc::Closed, "send on rank 0 -> succ 1 tag 3", 5.0,
                              [&] { pending.wait(60s); });
  });
}

TEST(PeerFailure, EveryMessageSentBeforeACloseIsDeliveredThenClosed) {
  // Rank 1 sends while rank 0 is not receiving and closes its ring at once; rank 0 then
  // finds every message, intact and in order, and only after them Closed.
  static constexpr int kMessages = 300;
  static constexpr std::size_t kSize = 2048;
  test::RankEvents events;
  test::SpawnOptions options;
  events.share_with(options);
  test::run_ring(
      2,
      [&](Ring& ring) {
        test::barrier(ring);
        std::vector<std::uint8_t> buffer(kSize);
        if (ring.rank() == 1) {
          for (int i = 0; i < kMessages; ++i) {
            test::fill_pattern(buffer.data(), kSize, static_cast<std::uint64_t>(i));
            ring.succ().send(buffer.data(), kSize, 5, 10s);
          }
          events.mark("rank 1 sent");
          return;  // the ring closes here, then the process exits
        }
        ASSERT_TRUE(test::wait_for_exit_of_pred_unreceived(ring, events, "rank 1 sent"))
            << "rank 1 did not close";
        for (int i = 0; i < kMessages; ++i) {
          ASSERT_EQ(ring.pred().recv(buffer.data(), kSize, 5, 10s), kSize) << "message " << i;
          ASSERT_EQ(test::count_wrong(buffer.data(), kSize, static_cast<std::uint64_t>(i)), 0u)
              << "message " << i;
        }
        test::expect_error(Errc::Closed, "closed its ring",
                           [&] { ring.pred().recv(buffer.data(), kSize, 5, 10s); });
      },
      options);
}

}  // namespace
}  // namespace ringpipe
