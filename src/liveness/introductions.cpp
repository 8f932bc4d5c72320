// ringpipe: concurrent introductions on the liveness listener, each with its own deadline.
#include "liveness/introductions.hpp"

#include <ringpipe/error.hpp>

#include "log.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace ringpipe::liveness {
namespace {

using detail::Clock;

// A connection that has not finished its Hello yet.
struct Introduction {
  net::Socket socket;
  std::string remote;
  Clock::time_point deadline;
  std::array<std::byte, kHelloSize> bytes{};
  std::size_t received = 0;
};

void drop(Introduction& introduction, const std::string& why) {
  detail::log(detail::LogLevel::Warning,
              "liveness: dropped a connection from " + introduction.remote + ": " + why);
  introduction.socket.reset();
}

int milliseconds_until(Clock::time_point when) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Room for one more: the quietest waiting connection (fewest bytes, then oldest) goes first.
void make_room(std::vector<Introduction>& waiting) {
  Introduction* quietest = nullptr;
  std::size_t open = 0;
  for (Introduction& introduction : waiting) {
    if (!introduction.socket.valid()) continue;
    ++open;
    if (quietest == nullptr || introduction.received < quietest->received ||
        (introduction.received == quietest->received &&
         introduction.deadline < quietest->deadline)) {
      quietest = &introduction;
    }
  }
  if (open >= kMaxIntroductions && quietest != nullptr) {
    drop(*quietest, "too many connections wait to introduce themselves");
  }
}

// Reads what `introduction` sent; true once its Hello is complete (else it may be dropped).
bool read_some(Introduction& introduction) {
  const ssize_t n =
      ::recv(introduction.socket.fd(), introduction.bytes.data() + introduction.received,
             kHelloSize - introduction.received, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  if (n <= 0) {
    drop(introduction, n == 0 ? "it closed before introducing itself"
                              : std::string("it failed (") + std::strerror(errno) + ")");
    return false;
  }
  introduction.received += static_cast<std::size_t>(n);
  return introduction.received == kHelloSize;
}

}  // namespace

Introduced accept_introduced(const net::Socket& listener,
                             const std::function<bool(const Hello&)>& wanted,
                             const detail::Deadline& deadline, const std::string& who) {
  net::set_nonblocking(listener.fd());
  std::vector<Introduction> waiting;
  while (true) {
    std::erase_if(waiting, [](const Introduction& each) { return !each.socket.valid(); });
    if (deadline.expired()) {
      throw Error(Errc::Timeout,
                  who + " did not connect within " + detail::format_seconds(deadline.elapsed_s()));
    }
    std::vector<pollfd> fds{{listener.fd(), POLLIN, 0}};
    int wait_ms = deadline.remaining_ms();
    for (const Introduction& introduction : waiting) {
      fds.push_back({introduction.socket.fd(), POLLIN, 0});
      wait_ms = std::min(wait_ms, milliseconds_until(introduction.deadline));
    }
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) {
      throw Error(Errc::Internal, who + ": poll failed: " + std::strerror(errno));
    }
    const auto now = Clock::now();
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      Introduction& introduction = waiting[i];
      if (fds[i + 1].revents == 0) {
        if (now >= introduction.deadline) {
          drop(introduction, "it did not introduce itself within " +
                                 detail::format_seconds(kIntroductionTimeout.count() / 1e3));
        }
        continue;
      }
      if (!read_some(introduction)) continue;
      const std::optional<Hello> hello = decode_hello(introduction.bytes);
      if (!hello) {
        drop(introduction, "it is not a ringpipe liveness connection");
      } else if (!wanted(*hello)) {
        drop(introduction,
             "it claimed rank " + std::to_string(hello->rank) + " without this ring's secret");
      } else {
        return Introduced{std::move(introduction.socket), *hello};
      }
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    while (true) {  // everyone queued, so a flood cannot hide the neighbour behind it
      net::Socket socket(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!socket.valid()) break;
      const int on = 1;  // notices must not wait for Nagle's timer
      setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      make_room(waiting);
      std::string remote = net::remote_address(socket.fd());
      waiting.push_back(
          Introduction{std::move(socket), std::move(remote), now + kIntroductionTimeout});
    }
  }
}

}  // namespace ringpipe::liveness
