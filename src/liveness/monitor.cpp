// ringpipe: the liveness thread of one Ring.
#include "liveness/monitor.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "liveness/introductions.hpp"
#include "log.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ringpipe::liveness {
namespace {

using detail::Clock;
using std::chrono::milliseconds;

// A neighbour gets several beats per stall timeout, so one late beat never looks like a stall;
// beats are never rarer than once a second nor more frequent than a hundred a second.
constexpr int kBeatsPerTimeout = 8;
constexpr milliseconds kSlowestBeat{1000};
constexpr milliseconds kFastestBeat{10};
static_assert(kBeatsPerTimeout * kFastestBeat <= kMinLivenessTimeout,
              "the shortest liveness timeout must still get all its beats");
// On close, how long to wait for each neighbour to end its side after reading the Closing.
constexpr milliseconds kCloseLinger{200};

std::string rank_name(int rank) { return "rank " + std::to_string(rank); }

Hello read_hello(int fd, const detail::Deadline& deadline, const std::string& what) {
  std::array<std::byte, kHelloSize> bytes{};
  net::recv_exact(fd, bytes, deadline, what);
  const std::optional<Hello> hello = decode_hello(bytes);
  if (!hello) throw Error(Errc::ProtocolMismatch, what + " is not a ringpipe liveness connection");
  return *hello;
}

milliseconds beat_for(milliseconds stall_timeout) {
  if (stall_timeout.count() <= 0) return kSlowestBeat;
  return std::clamp(stall_timeout / kBeatsPerTimeout, kFastestBeat, kSlowestBeat);
}

}  // namespace

Monitor::Monitor(const std::string& host, int rank, milliseconds stall_timeout,
                 std::function<void()> wake)
    : rank_(rank),
      stall_timeout_(stall_timeout == kInfinite ? milliseconds(0) : stall_timeout),
      wake_(std::move(wake)),
      listener_(net::listen_on(host, 0)),
      port_(net::local_port(listener_.fd())),
      stop_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!stop_fd_.valid()) {
    throw Error(Errc::Internal, std::string("cannot create an eventfd: ") + std::strerror(errno));
  }
}

Monitor::~Monitor() { close(); }

void Monitor::connect(int world_size, const Neighbour& pred, const Neighbour& succ,
                      std::span<const std::byte> secret, const detail::Deadline& deadline) {
  if (secret.size() != kSecretSize) {
    throw Error(Errc::ProtocolMismatch, "the ring secret has " + std::to_string(secret.size()) +
                                            " bytes, not " + std::to_string(kSecretSize));
  }
  std::copy(secret.begin(), secret.end(), secret_.begin());
  const Hello mine{static_cast<std::uint32_t>(rank_), stall_timeout_, secret_};
  const auto hello_bytes = encode(mine);

  // Each rank connects to its successor and accepts its predecessor; a ring of two has one
  // connection, opened by rank 0. The successor's answer is read only after the predecessor
  // was accepted: every rank connects first, so no rank waits for another that waits too.
  const bool connects = world_size > 2 || rank_ == 0;
  const bool accepts = world_size > 2 || rank_ == 1;
  const std::string succ_name = rank_name(rank_) + " -> succ " + std::to_string(succ.rank);
  Connection to_succ;
  if (connects) {
    try {
      to_succ.socket = net::connect_to(succ.host, succ.port, deadline);
    } catch (const Error& error) {
      throw Error(error.code(),
                  "liveness connection " + succ_name + ": " + std::string(error.message()));
    }
    to_succ.rank = succ.rank;
    net::send_all(to_succ.socket.fd(), hello_bytes, deadline, succ_name);
  }
  if (accepts) connections_.push_back(accept_pred(pred.rank, mine, deadline));
  if (connects) {
    const Hello answer =
        read_hello(to_succ.socket.fd(), deadline, "liveness connection " + succ_name);
    if (answer.rank != static_cast<std::uint32_t>(succ.rank) || answer.secret != secret_) {
      throw Error(Errc::AuthFailed, "liveness connection " + succ_name +
                                        ": the neighbour did not prove it belongs to this ring");
    }
    to_succ.stall_timeout = answer.stall_timeout;
    connections_.push_back(std::move(to_succ));
  }
  listener_.reset();  // nobody else may connect

  milliseconds beat = beat_for(stall_timeout_);
  const auto now = Clock::now();
  for (Connection& connection : connections_) {
    net::set_nonblocking(connection.socket.fd());
    connection.last_heard = now;
    beat = std::min(beat, beat_for(connection.stall_timeout));
  }
  beat_interval_ = beat;
  thread_ = std::thread([this] { run(); });
}

// Accepts connections until the predecessor introduces itself with the ring's secret; anyone
// else (a port scanner, a stale rank of another ring) is dropped, without delaying it.
Monitor::Connection Monitor::accept_pred(int pred, const Hello& mine,
                                         const detail::Deadline& deadline) {
  const std::string name = rank_name(rank_) + " <- pred " + std::to_string(pred);
  Introduced introduced = accept_introduced(
      listener_,
      [&](const Hello& hello) {
        return hello.rank == static_cast<std::uint32_t>(pred) && hello.secret == secret_;
      },
      deadline, "liveness connection " + name + ": the predecessor");
  net::send_all(introduced.socket.fd(), encode(mine), deadline, name);
  Connection connection;
  connection.rank = pred;
  connection.socket = std::move(introduced.socket);
  connection.stall_timeout = introduced.hello.stall_timeout;
  return connection;
}

std::vector<Event> Monitor::take_events() {
  std::lock_guard lock(events_mutex_);
  has_events_.store(false, std::memory_order_release);
  return std::exchange(events_, {});
}

void Monitor::post(Event event) {
  {
    std::lock_guard lock(events_mutex_);
    events_.push_back(std::move(event));
    has_events_.store(true, std::memory_order_release);
  }
  wake_();
}

void Monitor::notify(int origin, Reason reason, int except, std::uint16_t cause) noexcept {
  std::lock_guard lock(io_mutex_);
  for (Connection& connection : connections_) {
    if (connection.open && connection.rank != except) {
      send(connection, Frame{FrameType::Notice, reason, static_cast<std::uint32_t>(origin), cause});
    }
  }
}

void Monitor::close() noexcept {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(io_mutex_);
    for (Connection& connection : connections_) {
      if (!connection.open) continue;
      send(connection, Frame{FrameType::Closing, Reason{}, 0});
      shut_writes(connection);
    }
  }
  const std::uint64_t one = 1;
  if (::write(stop_fd_.fd(), &one, sizeof one) < 0) {
    // The thread still stops within one beat interval.
  }
  if (thread_.joinable()) thread_.join();
  // A neighbour that reads the Closing ends its side too; wait briefly for that, reading what
  // still comes, so neither end closes with unread input.
  std::lock_guard lock(io_mutex_);
  const detail::Deadline linger(kCloseLinger);
  while (!linger.expired()) {
    std::vector<pollfd> fds;
    for (const Connection& connection : connections_) {
      if (connection.open) fds.push_back({connection.socket.fd(), POLLIN, 0});
    }
    if (fds.empty() || ::poll(fds.data(), fds.size(), linger.remaining_ms()) <= 0) break;
    for (Connection& connection : connections_) {
      if (!connection.open) continue;
      std::array<std::byte, 256> buffer{};
      ssize_t n;
      while ((n = ::recv(connection.socket.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT)) > 0) {
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        end(connection);
      }
    }
  }
  for (Connection& connection : connections_) end(connection);
}

void Monitor::shut_writes(Connection& connection) noexcept {
  if (!connection.open || connection.write_shut) return;
  connection.write_shut = true;
  ::shutdown(connection.socket.fd(), SHUT_WR);
}

bool Monitor::send(Connection& connection, const Frame& frame) noexcept {
  if (!connection.open || connection.write_shut) return false;
  const auto bytes = encode(frame);
  ssize_t n;
  do {
    n = ::send(connection.socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(bytes.size())) return true;
  // A full send buffer means the neighbour has not read for a long time (or stall detection is
  // off); a partial frame would corrupt the stream. Either way the connection is over.
  if (!connection.end_expected && !stopping_.load()) {
    post(Event{Event::Kind::Lost, connection.rank, connection.rank, Reason::Died,
               n < 0 ? std::string("its liveness connection failed (") + std::strerror(errno) + ")"
                     : "its liveness connection stopped taking data"});
  }
  end(connection);
  return false;
}

void Monitor::end(Connection& connection) noexcept {
  if (!connection.open) return;
  connection.open = false;
  ::shutdown(connection.socket.fd(), SHUT_RDWR);
  connection.socket.reset();
}

void Monitor::run() {
  auto next_beat = Clock::now();
  while (!stopping_.load(std::memory_order_acquire)) {
    std::vector<pollfd> fds;
    std::vector<Connection*> polled;
    {
      std::lock_guard lock(io_mutex_);
      for (Connection& connection : connections_) {
        if (!connection.open) continue;
        fds.push_back({connection.socket.fd(), POLLIN, 0});
        polled.push_back(&connection);
      }
    }
    fds.push_back({stop_fd_.fd(), POLLIN, 0});
    const auto wait = std::chrono::ceil<milliseconds>(next_beat - Clock::now()).count();
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(wait, 0)));
    if (rc < 0 && errno != EINTR) {
      detail::log(detail::LogLevel::Warning,
                  std::string("liveness: poll failed: ") + std::strerror(errno));
    }
    const auto now = Clock::now();
    std::lock_guard lock(io_mutex_);
    // Read before judging: after this process was itself stopped, its neighbours' beats wait in
    // the socket buffers and must count before any silence does.
    for (Connection* connection : polled) {
      if (connection->open) read_from(*connection, now);
    }
    for (Connection& connection : connections_) judge(connection, now);
    if (now >= next_beat) {
      for (Connection& connection : connections_) {
        if (connection.open) send(connection, Frame{FrameType::Heartbeat, Reason{}, 0});
      }
      next_beat = now + beat_interval_;
    }
  }
}

void Monitor::read_from(Connection& connection, Clock::time_point now) {
  std::array<std::byte, 256> buffer{};
  while (connection.open) {
    const ssize_t n = ::recv(connection.socket.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      const std::string how =
          n == 0 ? "closed" : std::string("failed (") + std::strerror(errno) + ")";
      if (!connection.end_expected) {
        post(Event{Event::Kind::Lost, connection.rank, connection.rank, Reason::Died,
                   "its liveness connection " + how + " without a goodbye"});
      }
      end(connection);
      return;
    }
    if (!connection.judged) {
      connection.last_heard = now;
      connection.missed = 0;
    }
    for (ssize_t i = 0; i < n; ++i) {
      connection.partial[connection.partial_size++] = buffer[static_cast<std::size_t>(i)];
      if (connection.partial_size < kFrameSize) continue;
      connection.partial_size = 0;
      const std::optional<Frame> frame = decode_frame(connection.partial);
      if (!frame) {
        post(Event{Event::Kind::Lost, connection.rank, connection.rank, Reason::Died,
                   "its liveness connection sent a malformed frame"});
        end(connection);
        return;
      }
      if (frame->type == FrameType::Closing) {
        connection.closing_seen = true;
        connection.end_expected = true;
        shut_writes(connection);  // so that the closing neighbour sees this end, unreset
      }
      if (frame->type == FrameType::Notice && !connection.judged) {
        connection.end_expected = true;  // the notice says why the connection will end
        post(Event{Event::Kind::Notice, connection.rank, static_cast<int>(frame->origin),
                   frame->reason, "", frame->cause});
      }
    }
  }
}

void Monitor::count_missed_beats(Connection& connection, Clock::time_point now) noexcept {
  // The neighbour beats at least this often (it takes the fastest beat its neighbours need).
  const milliseconds interval =
      std::min(beat_for(connection.stall_timeout), beat_for(stall_timeout_));
  const auto silent = (now - connection.last_heard) / interval;
  // One interval of silence is a beat on its way; each further one is a beat missed.
  const auto missed = silent > 1 ? static_cast<std::uint64_t>(silent - 1) : std::uint64_t{0};
  if (missed <= connection.missed) return;
  beats_missed_.store(beats_missed_.load(std::memory_order_relaxed) + missed - connection.missed,
                      std::memory_order_relaxed);
  connection.missed = missed;
}

void Monitor::judge(Connection& connection, Clock::time_point now) {
  if (!connection.open || connection.closing_seen || connection.judged) return;
  count_missed_beats(connection, now);
  if (stall_timeout_.count() <= 0) return;
  if (now - connection.last_heard < stall_timeout_) return;
  post(Event{Event::Kind::Stalled, connection.rank, connection.rank, Reason::Stalled, ""});
  // Should it wake up, it reads why its ring broke, then the end of the connection. What it
  // sends meanwhile is read and ignored, so that the end is orderly and the notice not lost.
  connection.judged = true;
  connection.end_expected = true;
  send(connection,
       Frame{FrameType::Notice, Reason::Stalled, static_cast<std::uint32_t>(connection.rank)});
  shut_writes(connection);
}

}  // namespace ringpipe::liveness
