// ringpipe: the rendezvous head.
#include "rendezvous/server.hpp"

#include <ringpipe/error.hpp>

#include "log.hpp"
#include "random_bytes.hpp"
#include "rendezvous/auth.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
// How long the head keeps trying to deliver a final Error frame to ranks.
constexpr auto kFarewellTimeout = std::chrono::milliseconds(1000);
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

struct RendezvousServer::Connection {
  net::Socket socket;
  std::string remote;
  detail::Clock::time_point hello_deadline;
  std::vector<std::byte> in;
  std::vector<std::byte> out;
  Nonce head_nonce{};          // the challenge this connection must answer
  bool authenticated = false;  // its proof checked out (or neither side has a token)
  int rank = -1;               // set once its Hello was accepted
  bool ready = false;
  bool closing = false;    // refused: linger once `out` is flushed
  bool lingering = false;  // write side shut, input dropped until the client hangs up
  detail::Clock::time_point linger_until;
  bool dead = false;  // drop now
};

RendezvousServer::RendezvousServer(net::Socket listener, ServerConfig config)
    : listener_(std::move(listener)),
      config_(std::move(config)),
      connection_of_rank_(static_cast<std::size_t>(config_.world_size), nullptr),
      hellos_(static_cast<std::size_t>(config_.world_size)),
      gave_up_(static_cast<std::size_t>(config_.world_size), false) {
  if (config_.token.empty() && !net::is_loopback(listener_.fd())) warn_open_rendezvous(address());
}

RendezvousServer::~RendezvousServer() = default;

void RendezvousServer::run(const detail::Deadline& deadline, const std::atomic<bool>& stop) {
  std::vector<pollfd> fds;
  while (true) {
    if (stop.load(std::memory_order_relaxed)) {
      abort_all(Errc::Closed, "rank 0 abandoned the rendezvous");
      throw Error(Errc::Closed, "rendezvous stopped by rank 0");
    }
    if (deadline.expired()) {
      const std::string message = "rendezvous at " + address() + ": waited " +
                                  detail::format_seconds(deadline.elapsed_s()) + " for " +
                                  missing_ranks() + " of " + std::to_string(config_.world_size);
      abort_all(Errc::Timeout, message);
      throw Error(Errc::Timeout, message);
    }

    fds.clear();
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
      if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) read_from(connection);
      if (!connection.dead && !connection.out.empty()) flush(connection);
      if (connection.rank < 0 && !connection.dead && !connection.closing &&
          now >= connection.hello_deadline) {
        drop(connection, "did not authenticate and send a valid Hello within " +
                             detail::format_seconds(
                                 std::chrono::duration<double>(config_.hello_timeout).count()));
      }
      if (connection.closing && connection.out.empty()) linger(connection, now);
    }
    if (fds[0].revents & POLLIN) accept_all();

    if (failure_) {
      abort_all(failure_->code, failure_->message);
      throw Error(failure_->code, failure_->message);
    }
    for (const auto& connection : connections_) {
      if (connection->dead && connection->rank >= 0) {
        const std::string message = "rank " + std::to_string(connection->rank) + " (" +
                                    connection->remote +
                                    ") left the rendezvous before it completed";
        abort_all(Errc::PeerFailed, message);
        throw Error(Errc::PeerFailed, message);
      }
    }
    std::erase_if(connections_, [](const auto& connection) { return connection->dead; });

    if (joined_ == config_.world_size && !peers_sent_) broadcast_peers();
    if (ready_ == config_.world_size) {
      const std::vector<std::byte> go = encode_empty(FrameType::Go);
      for (Connection* connection : connection_of_rank_) {
        net::send_all(connection->socket.fd(), go, detail::Deadline(kFarewellTimeout),
                      "rank " + std::to_string(connection->rank));
      }
      turn_away_latecomers();
      return;
    }
  }
}

void RendezvousServer::accept_all() {
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
    connection->hello_deadline = detail::Clock::now() + config_.hello_timeout;
    // Every connection is challenged at once; nothing about the ring is said before it answers.
    connection->head_nonce = fresh_nonce();
    connection->out = encode(AuthChallenge{!config_.token.empty(), connection->head_nonce});
    flush(*connection);
    connections_.push_back(std::move(connection));
  }
}

// A refused client's Error frame is followed by a lingering close: the head shuts its write
// side (FIN after the frame) and drops what the client still sends until it hangs up. Closing
// with unread input at once would reset the connection, which can destroy the frame before the
// client reads it.
void RendezvousServer::linger(Connection& connection, detail::Clock::time_point now) {
  if (!connection.lingering) {
    ::shutdown(connection.socket.fd(), SHUT_WR);
    connection.lingering = true;
    connection.linger_until = now + kLinger;
  }
  if (now >= connection.linger_until) connection.dead = true;
}

void RendezvousServer::read_from(Connection& connection) {
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
        drop(connection, error.what());
        return;
      }
      if (connection.in.size() < kHeaderSize + header.payload_size) break;
      const std::vector<std::byte> frame(connection.in.begin(),
                                         connection.in.begin() + kHeaderSize + header.payload_size);
      connection.in.erase(connection.in.begin(), connection.in.begin() + frame.size());
      handle_frame(connection, header.type, std::span(frame).subspan(kHeaderSize));
    }
  }
}

void RendezvousServer::handle_frame(Connection& connection, FrameType type,
                                    std::span<const std::byte> payload) {
  if (connection.rank < 0 && !connection.authenticated && type == FrameType::AuthResponse) {
    try {
      authenticate(connection, decode_auth_response(payload));
    } catch (const Error& error) {
      drop(connection, error.what());
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
      drop(connection, error.what());
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
  drop(connection, "unexpected frame type " + std::to_string(static_cast<int>(type)));
}

void RendezvousServer::drop(Connection& connection, const std::string& why) {
  detail::log(detail::LogLevel::Warning, "rendezvous: dropping " + connection.remote + ": " + why);
  connection.dead = true;
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
  const std::vector<std::byte> frame = encode(proof);
  connection.out.insert(connection.out.end(), frame.begin(), frame.end());
  flush(connection);
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
  if (peers_sent_) {
    // The ring is already committed to this rank: without it, nobody can proceed.
    failure_ = Failure{Errc::Timeout,
                       "rendezvous at " + address() + ": rank " + std::to_string(rank) +
                           " timed out waiting for " + missing_ranks() + " of " +
                           std::to_string(config_.world_size) + " to connect to their neighbours"};
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
  const std::vector<std::byte> frame =
      encode(ErrorReply{static_cast<std::uint16_t>(code), message});
  connection.out.insert(connection.out.end(), frame.begin(), frame.end());
  connection.closing = true;
  flush(connection);
}

void RendezvousServer::flush(Connection& connection) {
  while (!connection.out.empty()) {
    const ssize_t n =
        ::send(connection.socket.fd(), connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      connection.out.erase(connection.out.begin(), connection.out.begin() + n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    connection.dead = true;
    return;
  }
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
    const std::vector<std::byte> frame =
        encode(Peers{record((rank - 1 + n) % n), record((rank + 1) % n), secret});
    connection.out.insert(connection.out.end(), frame.begin(), frame.end());
    flush(connection);
  }
  peers_sent_ = true;
}

// Connections still open when the ring has formed (a duplicate rank whose Hello had not been
// read yet, a rank of another ring) learn why instead of finding the connection closed.
void RendezvousServer::turn_away_latecomers() {
  const std::vector<std::byte> frame =
      encode(ErrorReply{static_cast<std::uint16_t>(Errc::InvalidArgument),
                        "every one of the " + std::to_string(config_.world_size) +
                            " ranks already joined, and the ring formed without this " +
                            "connection (a duplicate rank, or a rank of another ring?)"});
  const detail::Deadline deadline(kFarewellTimeout);
  std::vector<pollfd> latecomers;
  for (const auto& connection : connections_) {
    if (connection->rank >= 0 || connection->dead) continue;
    connection->out.insert(connection->out.end(), frame.begin(), frame.end());
    try {
      net::send_all(connection->socket.fd(), connection->out, deadline, connection->remote);
      ::shutdown(connection->socket.fd(), SHUT_WR);
      latecomers.push_back({connection->socket.fd(), POLLIN, 0});
    } catch (const Error&) {
      // Best effort: the client has its own deadline.
    }
  }
  // As in linger(): wait briefly for them to hang up, so closing resets none of them.
  const detail::Deadline lingering(kLingerAtEnd);
  while (!latecomers.empty() && !lingering.expired()) {
    if (::poll(latecomers.data(), latecomers.size(), lingering.remaining_ms()) <= 0) break;
    std::erase_if(latecomers, [](const pollfd& entry) {
      return entry.revents != 0 && discard_input(entry.fd);
    });
  }
}

void RendezvousServer::abort_all(Errc code, const std::string& message) {
  const std::vector<std::byte> frame =
      encode(ErrorReply{static_cast<std::uint16_t>(code), message});
  const detail::Deadline deadline(kFarewellTimeout);
  for (Connection* connection : connection_of_rank_) {
    if (connection == nullptr || connection->dead) continue;
    // After whatever part of an earlier frame is still queued, so the rank reads whole frames.
    connection->out.insert(connection->out.end(), frame.begin(), frame.end());
    try {
      net::send_all(connection->socket.fd(), connection->out, deadline, connection->remote);
    } catch (const Error&) {
      // Best effort: that rank has its own deadline and will fail on it.
    }
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
