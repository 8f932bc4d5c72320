// ringpipe: the rendezvous head, hosted by rank 0 on a background thread.
#pragma once

#include <ringpipe/error.hpp>

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/connections.hpp"
#include "rendezvous/wire.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
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
// loop serves all connections (see rendezvous/connections.hpp); this class says what their frames
// mean.
class RendezvousServer : private ConnectionProtocol {
 public:
  RendezvousServer(net::Socket listener, ServerConfig config);
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return connections_.port(); }
  [[nodiscard]] std::string address() const { return connections_.address(); }

  // Runs until every rank was released, then returns. Throws Error{Timeout} naming the missing
  // ranks when the deadline passes, Error{PeerFailed} when a joined rank disconnects early;
  // either way every connected rank is told first. Returns early (throwing Closed) once `stop`
  // is set.
  void run(const detail::Deadline& deadline, const std::atomic<bool>& stop);

 private:
  void greet(Connection& connection) override;
  void handle_frame(Connection& connection, FrameType type,
                    std::span<const std::byte> payload) override;
  void authenticate(Connection& connection, const AuthResponse& response);
  void register_rank(Connection& connection, Hello hello);
  void reject(Connection& connection, Errc code, const std::string& message);
  void abandon(Connection& connection);
  void broadcast_peers();
  void release_all();
  void abort_all(Errc code, const std::string& message);
  // "ranks 2, 5" still awaited, plus any that gave up waiting.
  [[nodiscard]] std::string missing_ranks() const;

  ServerConfig config_;
  Connections connections_;
  std::vector<Connection*> connection_of_rank_;  // nullptr until that rank joined
  std::vector<Hello> hellos_;
  std::vector<bool> gave_up_;  // ranks that joined, then left at their own deadline
  int joined_ = 0;
  int ready_ = 0;
  bool peers_sent_ = false;
  struct Failure {
    Errc code;
    std::string message;
  };
  std::optional<Failure> failure_;  // set while handling a frame; run() aborts everyone with it
};

}  // namespace ringpipe::rendezvous
