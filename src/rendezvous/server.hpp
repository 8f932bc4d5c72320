// ringpipe: the rendezvous head, hosted by rank 0 on a background thread.
#pragma once

#include <ringpipe/error.hpp>

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/wire.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringpipe::rendezvous {

struct ServerConfig {
  int world_size = 1;
  std::uint64_t job_id = 0;
  std::uint8_t comm_device = 0;
  std::string library_version;
  // A connection that has not authenticated and sent a valid Hello within this time is dropped,
  // so silent or slow clients cannot hold a slot.
  std::chrono::milliseconds hello_timeout{std::chrono::seconds(10)};
  // The job's shared secret ("" = none): only ranks that prove they know it may join, and only
  // they learn anything about the ring. Never put in a message. (Given an initializer so that
  // configurations written before it existed stay free of missing-initializer warnings.)
  std::string token{};
};

// Authenticates every connection (see rendezvous/auth.hpp), collects one Hello per rank, answers
// each rank with its two neighbours' records, waits until every rank is Ready and releases them all
// with Go. Non-ringpipe clients, garbage and invalid ranks are logged and dropped (a ringpipe rank
// first gets an Error frame saying why) without disturbing the others. Single-threaded: one poll()
// loop over all connections.
class RendezvousServer {
 public:
  RendezvousServer(net::Socket listener, ServerConfig config);
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;
  ~RendezvousServer();

  [[nodiscard]] std::uint16_t port() const { return net::local_port(listener_.fd()); }
  [[nodiscard]] std::string address() const { return net::local_address(listener_.fd()); }

  // Runs until every rank was released, then returns. Throws Error{Timeout} naming the missing
  // ranks when the deadline passes, Error{PeerFailed} when a joined rank disconnects early;
  // either way every connected rank is told first. Returns early (throwing Closed) once `stop`
  // is set.
  void run(const detail::Deadline& deadline, const std::atomic<bool>& stop);

 private:
  struct Connection;

  void accept_all();
  void read_from(Connection& connection);
  void handle_frame(Connection& connection, FrameType type, std::span<const std::byte> payload);
  void authenticate(Connection& connection, const AuthResponse& response);
  void register_rank(Connection& connection, Hello hello);
  void reject(Connection& connection, Errc code, const std::string& message);
  // Closes a connection that sent garbage, nothing in time, or a frame out of turn, logging
  // why; unlike reject(), nothing is sent back.
  void drop(Connection& connection, const std::string& why);
  void abandon(Connection& connection);
  void flush(Connection& connection);
  void broadcast_peers();
  void turn_away_latecomers();
  void linger(Connection& connection, detail::Clock::time_point now);
  void abort_all(Errc code, const std::string& message);
  // "ranks 2, 5" still awaited, plus any that gave up waiting.
  [[nodiscard]] std::string missing_ranks() const;

  net::Socket listener_;
  ServerConfig config_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> connection_of_rank_;  // nullptr until that rank joined
  std::vector<Hello> hellos_;
  std::vector<bool> gave_up_;  // ranks that joined, then left at their own deadline
  int joined_ = 0;
  int ready_ = 0;
  bool peers_sent_ = false;
  detail::Clock::time_point accept_paused_until_{};
  struct Failure {
    Errc code;
    std::string message;
  };
  std::optional<Failure> failure_;  // set while handling a frame; run() aborts everyone with it
};

}  // namespace ringpipe::rendezvous
