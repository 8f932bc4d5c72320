// ringpipe: the rendezvous head's connections, from accept to close, in one poll() loop.
#pragma once

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ringpipe::rendezvous {

// How long the head keeps trying to deliver a final frame (Error or Go) to a client.
inline constexpr auto kFarewellTimeout = std::chrono::milliseconds(1000);

// One client of the head: its socket, the bytes in flight and where it stands.
struct Connection {
  net::Socket socket;
  std::string remote;
  std::vector<std::byte> in;   // the start of a frame not yet complete
  std::vector<std::byte> out;  // queued, not yet taken by the socket
  detail::Clock::time_point hello_deadline;

  // What the protocol knows of it.
  Nonce head_nonce{};          // the challenge this connection must answer
  bool authenticated = false;  // its proof checked out (or neither side has a token)
  int rank = -1;               // set once its Hello was accepted
  bool ready = false;

  bool closing = false;    // refused: linger once `out` is flushed
  bool lingering = false;  // write side shut, input dropped until the client hangs up
  detail::Clock::time_point linger_until;
  bool dead = false;  // drop now

  // Queues `frame` after anything still queued and sends what the socket takes now.
  void send(std::span<const std::byte> frame);
  // Like send(), and the connection closes (lingering) once the frame is out.
  void send_last(std::span<const std::byte> frame);
  // Queues `frame` and blocks until everything queued is sent; false if that failed or the
  // deadline passed (best effort: the client has its own deadline).
  bool deliver(std::span<const std::byte> frame, const detail::Deadline& deadline);
  // Closes a connection that sent garbage, nothing in time, or a frame out of turn, logging
  // why; nothing is sent back.
  void drop(const std::string& why);
  // Sends what the socket takes now; a failed socket marks the connection dead.
  void flush();
};

// What the head says on a new connection and does with each frame it receives.
class ConnectionProtocol {
 public:
  // Queues what a new connection is told first.
  virtual void greet(Connection& connection) = 0;
  // One whole frame; may answer, refuse (send_last) or drop the connection.
  virtual void handle_frame(Connection& connection, FrameType type,
                            std::span<const std::byte> payload) = 0;

 protected:
  ~ConnectionProtocol() = default;
};

// Accepts clients on the listener and keeps their connections: reads whole frames for the
// protocol, sends what it queued, drops clients silent past the Hello timeout and closes
// refused ones after a linger. Single-threaded.
class Connections {
 public:
  Connections(net::Socket listener, std::chrono::milliseconds hello_timeout);

  [[nodiscard]] std::uint16_t port() const { return net::local_port(listener_.fd()); }
  [[nodiscard]] std::string address() const { return net::local_address(listener_.fd()); }
  [[nodiscard]] bool is_loopback() const { return net::is_loopback(listener_.fd()); }

  // Waits for activity until the deadline (waking at least every 100 ms), then serves every
  // connection and accepts the clients waiting; those accepted are polled next time.
  void serve(const detail::Deadline& deadline, ConnectionProtocol& protocol);

  // The first connection (in the order accepted) of a rank that closed or failed.
  [[nodiscard]] const Connection* dead_rank() const;
  void remove_dead();

  // Sends `farewell` to every connection that is not a rank and waits briefly for them to hang
  // up, so closing resets none of them.
  void turn_away_unjoined(std::span<const std::byte> farewell);

 private:
  void accept_all(ConnectionProtocol& protocol);
  void read_from(Connection& connection, ConnectionProtocol& protocol);
  void linger(Connection& connection, detail::Clock::time_point now);

  net::Socket listener_;
  std::chrono::milliseconds hello_timeout_;
  std::vector<std::unique_ptr<Connection>> connections_;
  detail::Clock::time_point accept_paused_until_{};
};

}  // namespace ringpipe::rendezvous
