// ringpipe: the rendezvous head.
#include "rendezvous/server.hpp"

#include <ringpipe/error.hpp>

#include "log.hpp"
#include "random_bytes.hpp"
#include "rendezvous/auth.hpp"

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace ringpipe::rendezvous {
namespace {

// Once per process: a program that forms many rings would otherwise repeat it for each.
void warn_open_rendezvous(const std::string& address) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  detail::log(detail::LogLevel::Warning,
              "rendezvous: the head listens on " + address +
                  " without a token: anyone who can reach this port can take a rank's place "
                  "and learn the ranks' addresses. Set RINGPIPE_TOKEN (Options::token) to the "
                  "same secret on every rank; ringpipe-run does so for its jobs");
}

}  // namespace

RendezvousServer::RendezvousServer(net::Socket listener, ServerConfig config)
    : config_(std::move(config)),
      connections_(std::move(listener), config_.hello_timeout),
      connection_of_rank_(static_cast<std::size_t>(config_.world_size), nullptr),
      hellos_(static_cast<std::size_t>(config_.world_size)),
      gave_up_(static_cast<std::size_t>(config_.world_size), false) {
  if (config_.token.empty() && !connections_.is_loopback()) warn_open_rendezvous(address());
}

void RendezvousServer::run(const detail::Deadline& deadline, const std::atomic<bool>& stop) {
  while (true) {
    // The deadline first: rank 0 stops its head when its own wait ran out too.
    if (deadline.expired()) {
      const std::string message = "rendezvous at " + address() + ": waited " +
                                  detail::format_seconds(deadline.elapsed_s()) + " for " +
                                  missing_ranks() + " of " + std::to_string(config_.world_size);
      abort_all(Errc::Timeout, message);
      throw Error(Errc::Timeout, message);
    }
    if (stop.load(std::memory_order_relaxed)) {
      abort_all(Errc::Closed, "rank 0 abandoned the rendezvous");
      throw Error(Errc::Closed, "rendezvous stopped by rank 0");
    }

    connections_.serve(deadline, *this);

    if (failure_) {
      abort_all(failure_->code, failure_->message);
      throw Error(failure_->code, failure_->message);
    }
    if (const Connection* left = connections_.dead_rank()) {
      const std::string message = "rank " + std::to_string(left->rank) + " (" + left->remote +
                                  ") left the rendezvous before it completed";
      abort_all(Errc::PeerFailed, message);
      throw Error(Errc::PeerFailed, message);
    }
    connections_.remove_dead();

    if (joined_ == config_.world_size && !peers_sent_) broadcast_peers();
    if (ready_ == config_.world_size) return release_all();
  }
}

void RendezvousServer::greet(Connection& connection) {
  // Every connection is challenged at once; nothing about the ring is said before it answers.
  connection.head_nonce = fresh_nonce();
  connection.send(encode(AuthChallenge{!config_.token.empty(), connection.head_nonce}));
}

void RendezvousServer::handle_frame(Connection& connection, FrameType type,
                                    std::span<const std::byte> payload) {
  if (connection.rank < 0 && !connection.authenticated && type == FrameType::AuthResponse) {
    try {
      authenticate(connection, decode_auth_response(payload));
    } catch (const Error& error) {
      connection.drop(error.what());
    }
    return;
  }
  if (connection.rank < 0 && !connection.authenticated && type == FrameType::Hello) {
    return reject(connection, Errc::AuthFailed,
                  "the client at " + connection.remote + " sent a Hello before authenticating");
  }
  if (connection.rank < 0 && type == FrameType::Hello) {
    try {
      register_rank(connection, decode_hello(payload));
    } catch (const Error& error) {
      connection.drop(error.what());
    }
    return;
  }
  if (connection.rank >= 0 && type == FrameType::Abandon && payload.empty()) {
    return abandon(connection);
  }
  if (connection.rank >= 0 && peers_sent_ && !connection.ready && type == FrameType::Ready &&
      payload.empty()) {
    connection.ready = true;
    ++ready_;
    return;
  }
  connection.drop("unexpected frame type " + std::to_string(static_cast<int>(type)));
}

void RendezvousServer::authenticate(Connection& connection, const AuthResponse& response) {
  const bool head_has_token = !config_.token.empty();
  const std::string who = "the rank connecting from " + connection.remote;
  if (response.rank_has_token && !head_has_token) {
    return reject(connection, Errc::AuthFailed,
                  who +
                      " has a token but the head has none (give rank 0 the same "
                      "RINGPIPE_TOKEN as every other rank)");
  }
  if (!response.rank_has_token && head_has_token) {
    return reject(connection, Errc::AuthFailed,
                  who +
                      " has no token but the head requires one (set the same RINGPIPE_TOKEN "
                      "on every rank)");
  }
  AuthProof proof;
  if (head_has_token) {
    // Checked with the job id the rank used; a rank of another job is refused at its Hello,
    // with a message that says so.
    const Mac expected =
        rank_proof(config_.token, connection.head_nonce, response.rank_nonce, response.job_id);
    if (!same_proof(response.proof, expected)) {
      return reject(connection, Errc::AuthFailed,
                    who +
                        " has a token that does not match the head's (every rank, rank 0 "
                        "included, needs the same RINGPIPE_TOKEN)");
    }
    proof.proof =
        head_proof(config_.token, connection.head_nonce, response.rank_nonce, response.job_id);
  }
  connection.authenticated = true;
  connection.send(encode(proof));
}

void RendezvousServer::register_rank(Connection& connection, Hello hello) {
  const std::string who = "rank " + std::to_string(hello.rank) + " (" + connection.remote + ")";
  if (hello.library_version != config_.library_version) {
    return reject(connection, Errc::ProtocolMismatch,
                  who + " runs ringpipe " + hello.library_version + " but the head runs " +
                      config_.library_version);
  }
  if (hello.world_size != static_cast<std::uint32_t>(config_.world_size)) {
    return reject(connection, Errc::InvalidArgument,
                  who + " was started with world size " + std::to_string(hello.world_size) +
                      " but the head's world size is " + std::to_string(config_.world_size));
  }
  if (hello.rank >= hello.world_size) {
    return reject(connection, Errc::InvalidArgument,
                  who + " is out of range for world size " + std::to_string(hello.world_size));
  }
  if (hello.job_id != config_.job_id) {
    return reject(connection, Errc::InvalidArgument,
                  who + " belongs to job " + std::to_string(hello.job_id) +
                      " but this ring is job " + std::to_string(config_.job_id) +
                      " (a rank left over from another job?)");
  }
  if (hello.comm_device != config_.comm_device) {
    return reject(connection, Errc::InvalidArgument,
                  who + " uses another comm device than the head");
  }
  if (Connection* first = connection_of_rank_[hello.rank]) {
    return reject(connection, Errc::InvalidArgument,
                  who + ": rank " + std::to_string(hello.rank) + " already joined from " +
                      first->remote + " (two processes were given the same rank)");
  }
  connection.rank = static_cast<int>(hello.rank);
  connection_of_rank_[hello.rank] = &connection;
  gave_up_[hello.rank] = false;
  hellos_[hello.rank] = std::move(hello);
  ++joined_;
}

void RendezvousServer::abandon(Connection& connection) {
  const int rank = connection.rank;
  if (peers_sent_ || rank == 0) {
    // The ring is already committed to this rank, or the head's own rank is leaving (and the
    // head with it): nobody can proceed, and every waiting rank learns who was missing rather
    // than only that the head went away.
    failure_ =
        Failure{Errc::Timeout, "rendezvous at " + address() + ": rank " + std::to_string(rank) +
                                   " timed out waiting for " + missing_ranks() + " of " +
                                   std::to_string(config_.world_size) +
                                   (peers_sent_ ? " to connect to their neighbours" : "")};
    return;
  }
  // Before the ring is committed a rank may leave: its slot opens again, and it learns who the
  // head is still waiting for.
  const std::string message = "rendezvous at " + address() + ": rank " + std::to_string(rank) +
                              " timed out waiting for " + missing_ranks() + " of " +
                              std::to_string(config_.world_size);
  connection_of_rank_[static_cast<std::size_t>(rank)] = nullptr;
  gave_up_[static_cast<std::size_t>(rank)] = true;
  --joined_;
  connection.rank = -1;
  reject(connection, Errc::Timeout, message);
}

void RendezvousServer::reject(Connection& connection, Errc code, const std::string& message) {
  detail::log(detail::LogLevel::Warning, "rendezvous: rejecting " + message);
  // After anything still queued (the challenge), so the client reads whole frames.
  connection.send_last(encode(ErrorReply{static_cast<std::uint16_t>(code), message}));
}

void RendezvousServer::broadcast_peers() {
  const int n = config_.world_size;
  const auto record = [this](int rank) {
    const Hello& hello = hellos_[static_cast<std::size_t>(rank)];
    return PeerRecord{hello.rank,    hello.host,          hello.host_identity, hello.gpu_identity,
                      hello.address, hello.liveness_host, hello.liveness_port};
  };
  const std::vector<std::byte> secret = detail::random_bytes(kRingSecretSize);
  for (int rank = 0; rank < n; ++rank) {
    Connection& connection = *connection_of_rank_[static_cast<std::size_t>(rank)];
    connection.send(encode(Peers{record((rank - 1 + n) % n), record((rank + 1) % n), secret}));
  }
  peers_sent_ = true;
}

void RendezvousServer::release_all() {
  const std::vector<std::byte> go = encode_empty(FrameType::Go);
  for (Connection* connection : connection_of_rank_) {
    net::send_all(connection->socket.fd(), go, detail::Deadline(kFarewellTimeout),
                  "rank " + std::to_string(connection->rank));
  }
  // Connections still open when the ring has formed (a duplicate rank whose Hello had not been
  // read yet, a rank of another ring) learn why instead of finding the connection closed.
  connections_.turn_away_unjoined(
      encode(ErrorReply{static_cast<std::uint16_t>(Errc::InvalidArgument),
                        "every one of the " + std::to_string(config_.world_size) +
                            " ranks already joined, and the ring formed without this " +
                            "connection (a duplicate rank, or a rank of another ring?)"}));
}

void RendezvousServer::abort_all(Errc code, const std::string& message) {
  const std::vector<std::byte> frame =
      encode(ErrorReply{static_cast<std::uint16_t>(code), message});
  const detail::Deadline deadline(kFarewellTimeout);
  for (Connection* connection : connection_of_rank_) {
    if (connection == nullptr || connection->dead) continue;
    // Best effort: a rank that cannot be told has its own deadline and will fail on it.
    connection->deliver(frame, deadline);
  }
}

std::string RendezvousServer::missing_ranks() const {
  constexpr int kListed = 16;
  const auto list = [&](auto&& selected) {
    std::string text;
    int count = 0;
    for (int rank = 0; rank < config_.world_size; ++rank) {
      if (!selected(static_cast<std::size_t>(rank))) continue;
      if (count < kListed) text += (count ? ", " : "") + std::to_string(rank);
      ++count;
    }
    if (count > kListed) text += ", ... (" + std::to_string(count) + " in all)";
    return std::pair{count, text};
  };
  const auto [missing, missing_list] = list([&](std::size_t rank) {
    const Connection* connection = connection_of_rank_[rank];
    return connection == nullptr ? !gave_up_[rank] : peers_sent_ && !connection->ready;
  });
  const auto [gave_up, gave_up_list] = list([&](std::size_t rank) { return gave_up_[rank]; });
  std::string text;
  if (missing > 0) text = (missing == 1 ? "rank " : "ranks ") + missing_list;
  if (gave_up > 0) {
    text += (missing > 0 ? " (" : "") + std::string(gave_up == 1 ? "rank " : "ranks ") +
            gave_up_list + " gave up waiting" + (missing > 0 ? ")" : "");
  }
  return text;
}

}  // namespace ringpipe::rendezvous
