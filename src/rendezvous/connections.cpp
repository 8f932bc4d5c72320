// ringpipe: the rendezvous head's connections, from accept to close.
#include "rendezvous/connections.hpp"

#include <ringpipe/error.hpp>

#include "log.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringpipe::rendezvous {
namespace {

// More simultaneous connections than this are refused at once: a flood cannot exhaust fds.
constexpr std::size_t kMaxConnections = 8192;
// The loop wakes at least this often to expire silent connections and notice `stop`.
constexpr int kPollCapMs = 100;
// How long the head stops accepting after running out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// How long a refused client's connection lingers after its Error frame (see linger), and how
// long the head waits for refused clients to hang up once the ring has formed.
constexpr auto kLinger = std::chrono::milliseconds(500);
constexpr auto kLingerAtEnd = std::chrono::milliseconds(200);

// Reads and drops whatever has arrived; true once the peer has closed (or the socket failed).
bool discard_input(int fd) {
  std::byte chunk[4096];
  while (true) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }
}

}  // namespace

void Connection::send(std::span<const std::byte> frame) {
  out.insert(out.end(), frame.begin(), frame.end());
  flush();
}

void Connection::send_last(std::span<const std::byte> frame) {
  out.insert(out.end(), frame.begin(), frame.end());
  closing = true;
  flush();
}

bool Connection::deliver(std::span<const std::byte> frame, const detail::Deadline& deadline) {
  // After whatever part of an earlier frame is still queued, so the client reads whole frames.
  out.insert(out.end(), frame.begin(), frame.end());
  try {
    net::send_all(socket.fd(), out, deadline, remote);
  } catch (const Error&) {
    return false;
  }
  out.clear();
  return true;
}

void Connection::drop(const std::string& why) {
  detail::log(detail::LogLevel::Warning, "rendezvous: dropping " + remote + ": " + why);
  dead = true;
}

void Connection::flush() {
  while (!out.empty()) {
    const ssize_t n = ::send(socket.fd(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out.erase(out.begin(), out.begin() + n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    dead = true;
    return;
  }
}

Connections::Connections(net::Socket listener, std::chrono::milliseconds hello_timeout)
    : listener_(std::move(listener)), hello_timeout_(hello_timeout) {}

void Connections::serve(const detail::Deadline& deadline, ConnectionProtocol& protocol) {
  std::vector<pollfd> fds;
  // While out of descriptors the listener stays readable; not polling it for a moment keeps
  // the loop from spinning until connections close.
  const bool accepting = detail::Clock::now() >= accept_paused_until_;
  fds.push_back({listener_.fd(), static_cast<short>(accepting ? POLLIN : 0), 0});
  for (const auto& connection : connections_) {
    const short events = static_cast<short>(POLLIN | (connection->out.empty() ? 0 : POLLOUT));
    fds.push_back({connection->socket.fd(), events, 0});
  }
  const int rc = poll(fds.data(), fds.size(), deadline.remaining_ms(kPollCapMs));
  if (rc < 0 && errno != EINTR) {
    throw Error(Errc::Internal, std::string("rendezvous poll failed: ") + std::strerror(errno));
  }

  const auto now = detail::Clock::now();
  // fds[i + 1] belongs to connections_[i]; connections accepted below are polled next round.
  const std::size_t polled = fds.size() - 1;
  for (std::size_t i = 0; i < polled; ++i) {
    Connection& connection = *connections_[i];
    if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) read_from(connection, protocol);
    if (!connection.dead && !connection.out.empty()) connection.flush();
    if (connection.rank < 0 && !connection.dead && !connection.closing &&
        now >= connection.hello_deadline) {
      connection.drop(
          "did not authenticate and send a valid Hello within " +
          detail::format_seconds(std::chrono::duration<double>(hello_timeout_).count()));
    }
    if (connection.closing && connection.out.empty()) linger(connection, now);
  }
  if (fds[0].revents & POLLIN) accept_all(protocol);
}

const Connection* Connections::dead_rank() const {
  for (const auto& connection : connections_) {
    if (connection->dead && connection->rank >= 0) return connection.get();
  }
  return nullptr;
}

void Connections::remove_dead() {
  std::erase_if(connections_, [](const auto& connection) { return connection->dead; });
}

void Connections::accept_all(ConnectionProtocol& protocol) {
  while (true) {
    const int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        if (detail::Clock::now() >= accept_paused_until_) {
          detail::log(detail::LogLevel::Warning,
                      "rendezvous: out of file descriptors with " +
                          std::to_string(connections_.size()) +
                          " connections open; raise the limit (ulimit -n) for large rings");
        }
        accept_paused_until_ = detail::Clock::now() + kAcceptPause;
        return;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        detail::log(detail::LogLevel::Warning,
                    std::string("rendezvous: accept failed: ") + std::strerror(errno));
      }
      return;
    }
    net::Socket socket(fd);
    if (connections_.size() >= kMaxConnections) {
      detail::log(detail::LogLevel::Warning, "rendezvous: refusing " + net::remote_address(fd) +
                                                 ": too many open connections");
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->remote = net::remote_address(fd);
    connection->socket = std::move(socket);
    connection->hello_deadline = detail::Clock::now() + hello_timeout_;
    protocol.greet(*connection);
    connections_.push_back(std::move(connection));
  }
}

// A refused client's last frame is followed by a lingering close: the head shuts its write
// side (FIN after the frame) and drops what the client still sends until it hangs up. Closing
// with unread input at once would reset the connection, which can destroy the frame before the
// client reads it.
void Connections::linger(Connection& connection, detail::Clock::time_point now) {
  if (!connection.lingering) {
    ::shutdown(connection.socket.fd(), SHUT_WR);
    connection.lingering = true;
    connection.linger_until = now + kLinger;
  }
  if (now >= connection.linger_until) connection.dead = true;
}

void Connections::read_from(Connection& connection, ConnectionProtocol& protocol) {
  if (connection.lingering) {
    if (discard_input(connection.socket.fd())) connection.dead = true;
    return;
  }
  std::byte chunk[4096];
  while (!connection.dead && !connection.closing) {
    const ssize_t n = ::recv(connection.socket.fd(), chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      connection.dead = true;
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    connection.in.insert(connection.in.end(), chunk, chunk + n);
    // Consume every complete frame; the header check bounds what one frame may claim.
    while (connection.in.size() >= kHeaderSize && !connection.dead && !connection.closing) {
      FrameHeader header{};
      try {
        header = decode_header(std::span(connection.in).first(kHeaderSize));
      } catch (const Error& error) {
        connection.drop(error.what());
        return;
      }
      if (connection.in.size() < kHeaderSize + header.payload_size) break;
      const std::vector<std::byte> frame(connection.in.begin(),
                                         connection.in.begin() + kHeaderSize + header.payload_size);
      connection.in.erase(connection.in.begin(), connection.in.begin() + frame.size());
      protocol.handle_frame(connection, header.type, std::span(frame).subspan(kHeaderSize));
    }
  }
}

void Connections::turn_away_unjoined(std::span<const std::byte> farewell) {
  const detail::Deadline deadline(kFarewellTimeout);
  std::vector<pollfd> unjoined;
  for (const auto& connection : connections_) {
    if (connection->rank >= 0 || connection->dead) continue;
    if (connection->deliver(farewell, deadline)) {
      ::shutdown(connection->socket.fd(), SHUT_WR);
      unjoined.push_back({connection->socket.fd(), POLLIN, 0});
    }
  }
  // As in linger(): wait briefly for them to hang up, so closing resets none of them.
  const detail::Deadline lingering(kLingerAtEnd);
  while (!unjoined.empty() && !lingering.expired()) {
    if (::poll(unjoined.data(), unjoined.size(), lingering.remaining_ms()) <= 0) break;
    std::erase_if(unjoined, [](const pollfd& entry) {
      return entry.revents != 0 && discard_input(entry.fd);
    });
  }
}

}  // namespace ringpipe::rendezvous
