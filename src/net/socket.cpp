// ringpipe: TCP sockets for the rendezvous and the liveness links.
#include "net/socket.hpp"

#include <ringpipe/error.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

namespace ringpipe::net {
namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

std::string format_address(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const noexcept { freeaddrinfo(info); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoList resolve(const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0) {
    throw Error(Errc::InvalidArgument,
                "cannot resolve rendezvous head '" + host + "': " + gai_strerror(rc));
  }
  return AddrInfoList(result);
}

// Waits for `events` on fd until the deadline; false if it expired.
bool wait_for(int fd, short events, const detail::Deadline& deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int rc = poll(&entry, 1, deadline.remaining_ms());
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) {
      throw Error(Errc::Internal, "poll failed: " + errno_text(errno));
    }
  }
}

}  // namespace

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Socket::~Socket() { reset(); }

void Socket::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string local_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  return format_address(reinterpret_cast<sockaddr*>(&address));
}

std::string remote_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  return format_address(reinterpret_cast<sockaddr*>(&address));
}

std::uint16_t local_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return 0;
}

std::string local_host(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  char host[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&address)->sin_addr, host, sizeof host);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr, host, sizeof host);
  }
  return host;
}

bool is_loopback(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  if (address.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<sockaddr_in*>(&address)->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const in6_addr& in6 = reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&in6) || (IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127);
  }
  return false;
}

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw Error(Errc::Internal, "cannot make socket non-blocking: " + errno_text(errno));
  }
}

Socket listen_on(const std::string& host, std::uint16_t port, const std::string& port_origin) {
  const AddrInfoList list = resolve(host, port, true);
  std::string failures;
  std::string in_use;  // the addresses another socket already listens on
  for (const addrinfo* info = list.get(); info != nullptr; info = info->ai_next) {
    Socket socket(::socket(info->ai_family, info->ai_socktype | SOCK_CLOEXEC, info->ai_protocol));
    if (!socket.valid()) continue;
    const int on = 1;
    setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(socket.fd(), info->ai_addr, info->ai_addrlen) != 0 ||
        listen(socket.fd(), SOMAXCONN) != 0) {
      const int err = errno;
      if (err == EADDRINUSE) in_use += (in_use.empty() ? "" : ", ") + format_address(info->ai_addr);
      failures += " " + format_address(info->ai_addr) + ": " + errno_text(err) + ";";
      continue;
    }
    set_nonblocking(socket.fd());
    return socket;
  }
  if (!in_use.empty() && port != 0) {
    // The usual cause under torchrun: a port that torch.distributed or another job holds.
    const std::string what = "rank 0 cannot host the rendezvous: " + in_use +
                             " is already in use by another socket; port " + std::to_string(port);
    if (port_origin.empty()) {
      throw Error(Errc::InvalidArgument,
                  what +
                      " was set by the program (Options::port or initialize_distributed's "
                      "port): give every rank the same free port instead");
    }
    throw Error(Errc::InvalidArgument, what + " comes from " + port_origin +
                                           ": set RINGPIPE_PORT to a free port, the same on "
                                           "every rank");
  }
  throw Error(Errc::InvalidArgument,
              "rank 0 cannot host the rendezvous on " + host + ":" + std::to_string(port) +
                  " (the head address must belong to rank 0's host):" + failures);
}

Socket adopt_listener(int fd, std::uint16_t port) {
  int listening = 0;
  socklen_t length = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening) {
    throw Error(Errc::InvalidArgument,
                "listen fd " + std::to_string(fd) + " is not a listening socket");
  }
  if (port != 0 && local_port(fd) != port) {
    throw Error(Errc::InvalidArgument, "listen fd " + std::to_string(fd) + " listens on port " +
                                           std::to_string(local_port(fd)) + ", not on port " +
                                           std::to_string(port) + " as the other ranks are told");
  }
  // A duplicate: the caller's descriptor stays open, so the port stays reserved for a later
  // ring of the same job instead of returning to the pool other processes bind from.
  Socket socket(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!socket.valid()) {
    throw Error(Errc::Internal,
                "cannot duplicate listen fd " + std::to_string(fd) + ": " + errno_text(errno));
  }
  set_nonblocking(socket.fd());
  return socket;
}

Socket connect_to(const std::string& host, std::uint16_t port, const detail::Deadline& deadline) {
  const std::string where = host + ":" + std::to_string(port);
  std::string last_error = "no address";
  auto pause = std::chrono::milliseconds(10);
  while (true) {
    const AddrInfoList list = resolve(host, port, false);
    for (const addrinfo* info = list.get(); info != nullptr; info = info->ai_next) {
      Socket socket(::socket(info->ai_family, info->ai_socktype | SOCK_CLOEXEC, info->ai_protocol));
      if (!socket.valid()) continue;
      set_nonblocking(socket.fd());
      int rc = ::connect(socket.fd(), info->ai_addr, info->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!wait_for(socket.fd(), POLLOUT, deadline)) break;
        int err = 0;
        socklen_t length = sizeof err;
        getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &err, &length);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        const int on = 1;
        setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        return socket;
      }
      last_error = errno_text(errno);
    }
    if (deadline.expired()) break;
    // The head may still be starting: retry with a short back-off, within the deadline.
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        pause, std::chrono::milliseconds(deadline.remaining_ms())));
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
    if (deadline.expired()) break;
  }
  throw Error(Errc::Timeout, "cannot reach the rendezvous head at " + where + " after " +
                                 detail::format_seconds(deadline.elapsed_s()) + ": " + last_error);
}

void send_all(int fd, std::span<const std::byte> data, const detail::Deadline& deadline,
              const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        throw Error(Errc::Timeout, "sending to " + what + " timed out after " +
                                       detail::format_seconds(deadline.elapsed_s()));
      }
      continue;
    }
    throw Error(Errc::PeerFailed, "sending to " + what + " failed: " + errno_text(errno));
  }
}

void recv_exact(int fd, std::span<std::byte> data, const detail::Deadline& deadline,
                const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::recv(fd, data.data() + done, data.size() - done, 0);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      throw Error(Errc::PeerFailed, what + " closed the connection");
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd, POLLIN, deadline)) {
        throw Error(Errc::Timeout, "waiting for " + what + " timed out after " +
                                       detail::format_seconds(deadline.elapsed_s()));
      }
      continue;
    }
    throw Error(Errc::PeerFailed, "receiving from " + what + " failed: " + errno_text(errno));
  }
}

bool wait_readable(int fd, const detail::Deadline& deadline) {
  return wait_for(fd, POLLIN, deadline);
}

}  // namespace ringpipe::net
