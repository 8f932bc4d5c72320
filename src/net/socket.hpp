// ringpipe: TCP sockets for the rendezvous and the liveness links, every call bounded by a
// deadline.
#pragma once

#include "deadline.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ringpipe::net {

// Owns one file descriptor.
class Socket {
 public:
  Socket() noexcept = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// "host:port" of the socket's local or remote end ("?" if unknown).
std::string local_address(int fd);
std::string remote_address(int fd);
std::uint16_t local_port(int fd);
// The numeric IP of the socket's local end ("" if unknown): the address this host is reached
// at on the route the socket took.
std::string local_host(int fd);
// True if the socket's local end is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x):
// then only processes of this host can reach it.
bool is_loopback(int fd);

// Binds and listens on `host:port` (port 0 picks a free one). Throws Error{InvalidArgument}
// naming the address; a port already in use is named with `port_origin` (where the number came
// from, e.g. "MASTER_PORT=29500 + 1"; "" = the program) and how to choose another.
Socket listen_on(const std::string& host, std::uint16_t port, const std::string& port_origin = "");
// Uses a socket a launcher already listens on (through a duplicate; `fd` stays open and the
// caller's). Throws InvalidArgument if it is not one, or if it listens on another port than
// `port` (0 = any).
Socket adopt_listener(int fd, std::uint16_t port);

// Connects to `host:port`, retrying refused connections until the deadline (the head may not
// be listening yet). Throws Error{Timeout} naming the address and the last error.
Socket connect_to(const std::string& host, std::uint16_t port, const detail::Deadline& deadline);

// Writes all bytes or throws (Timeout, PeerFailed). `what` names the peer for messages.
void send_all(int fd, std::span<const std::byte> data, const detail::Deadline& deadline,
              const std::string& what);
// Reads exactly data.size() bytes or throws (Timeout; PeerFailed on early close).
void recv_exact(int fd, std::span<std::byte> data, const detail::Deadline& deadline,
                const std::string& what);

void set_nonblocking(int fd);

// Waits until fd is readable (or closed); false if the deadline passed first.
bool wait_readable(int fd, const detail::Deadline& deadline);

}  // namespace ringpipe::net
