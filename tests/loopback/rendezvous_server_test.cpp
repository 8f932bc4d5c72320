// The rendezvous head in this process, driven by raw client sockets.
#include <ringpipe/error.hpp>

#include "head_thread.hpp"
#include "net/socket.hpp"
#include "rendezvous/server.hpp"
#include "rendezvous/wire.hpp"
#include "rendezvous_clients.hpp"
#include "ringpipe_config.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>

namespace ringpipe::rendezvous {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using net::connect_to;
using net::recv_exact;
using net::send_all;
using net::Socket;
using net::wait_readable;
using test::authenticate_raw;
using test::HeadThread;
using test::kHeadJobId;

Socket connect_raw(std::uint16_t port) {
  return connect_to("127.0.0.1", port, detail::Deadline(2s));
}

// Seconds until the head closes `socket` (0 bytes read), at most `limit`.
double seconds_until_closed(const Socket& socket, std::chrono::seconds limit) {
  const auto start = Clock::now();
  std::byte byte;
  while (Clock::now() - start < limit) {
    if (wait_readable(socket.fd(), detail::Deadline(100ms)) &&
        ::recv(socket.fd(), &byte, 1, MSG_DONTWAIT) == 0) {
      break;
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(RendezvousHead, SilentConnectionIsDroppedAfterTheHelloTimeout) {
  HeadThread head(2, 300ms, 10s);
  const Socket silent = connect_raw(head.port());
  const double closed_after = seconds_until_closed(silent, 5s);
  EXPECT_GE(closed_after, 0.2);
  EXPECT_LT(closed_after, 2.0);
  EXPECT_FALSE(head.finished()) << "a silent client must not end the rendezvous";
}

TEST(RendezvousHead, RankThatLeavesBeforeTheRingFormedFailsEveryoneNamingIt) {
  HeadThread head(3, 5s, 10s);
  Socket waiting = connect_raw(head.port());
  Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = 3;
  hello.job_id = kHeadJobId;
  hello.rank = 0;
  ASSERT_TRUE(authenticate_raw(waiting.fd(), kHeadJobId, ""));
  send_all(waiting.fd(), encode(hello), detail::Deadline(1s), "head");
  {
    Socket leaving = connect_raw(head.port());
    hello.rank = 1;
    ASSERT_TRUE(authenticate_raw(leaving.fd(), kHeadJobId, ""));
    send_all(leaving.fd(), encode(hello), detail::Deadline(1s), "head");
    // Joined once the head has read its Hello (no client data left unread); then it dies.
    const detail::Deadline read(5s);
    while (test::connections_with_pending_data(head.port()) != 0 && !read.expired()) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(test::connections_with_pending_data(head.port()), 0) << "the head left data unread";
  }
  const auto start = Clock::now();
  head.join();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 2.0);
  EXPECT_EQ(head.code(), Errc::PeerFailed) << head.what();
  EXPECT_NE(head.what().find("rank 1"), std::string::npos) << head.what();
  // The rank still waiting is told why, instead of waiting for its own timeout.
  std::byte header[kHeaderSize];
  recv_exact(waiting.fd(), header, detail::Deadline(2s), "head");
  EXPECT_EQ(decode_header(header).type, FrameType::Error);
}

}  // namespace
}  // namespace ringpipe::rendezvous
