// ringpipe: watches a rank's neighbours over TCP connections beside the UCX links.
//
// A thread of its own sends heartbeats and reads the neighbours', so liveness does not depend
// on the application calling into ringpipe: a rank busy computing for minutes still beats, while
// a stopped process (SIGSTOP, a hung machine) or a cut link goes quiet and is declared stalled
// after the stall timeout. A process that dies loses its connection at once (the kernel closes
// it), which reports the death far sooner than transport keepalives. The same connections carry
// the notices that fail the rest of the ring after one rank has failed.
#pragma once

#include "deadline.hpp"
#include "liveness/wire.hpp"
#include "net/socket.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace ringpipe::liveness {

// What the monitor learned, for the Ring to apply on its own thread.
struct Event {
  enum class Kind : std::uint8_t {
    Lost,     // the neighbour's connection ended without a Closing frame
    Stalled,  // the neighbour sent nothing for the stall timeout
    Notice,   // the neighbour says the ring is broken
  };
  Kind kind = Kind::Lost;
  int neighbour = 0;        // the neighbour concerned, or the one that sent the notice
  int origin = 0;           // Notice: the rank that failed
  Reason reason{};          // Notice: why
  std::string detail;       // Lost: what the connection reported
  std::uint16_t cause = 0;  // Notice of a failed link: the origin's error code (an Errc)
};

struct Neighbour {
  int rank = 0;
  std::string host;  // numeric address of its liveness listener
  std::uint16_t port = 0;
};

class Monitor {
 public:
  // Listens on `host` (port 0) for the predecessor's connection. `wake` is called from the
  // monitor's thread after events were queued; it must be thread-safe.
  Monitor(const std::string& host, int rank, std::chrono::milliseconds stall_timeout,
          std::function<void()> wake);
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
  ~Monitor();

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  // Opens the connections to both neighbours of a ring of `world_size` (one for two ranks),
  // each end proving with the ring's secret that it took part in this rendezvous, then starts
  // watching. Connections from anyone else are dropped. Throws Timeout naming the neighbour
  // that did not connect in time, AuthFailed if a neighbour proves a different secret.
  void connect(int world_size, const Neighbour& pred, const Neighbour& succ,
               std::span<const std::byte> secret, const detail::Deadline& deadline);

  [[nodiscard]] bool has_events() const noexcept {
    return has_events_.load(std::memory_order_acquire);
  }
  std::vector<Event> take_events();

  // Beats the neighbours were due to send that did not come, one interval of slack allowed
  // (see judge). Any thread may read it.
  [[nodiscard]] std::uint64_t beats_missed() const noexcept {
    return beats_missed_.load(std::memory_order_relaxed);
  }

  // Tells every connected neighbour but `except` that `origin` failed for `reason` (`cause`:
  // the error code of a failed link).
  void notify(int origin, Reason reason, int except, std::uint16_t cause = 0) noexcept;

  // The orderly end: a Closing frame to each neighbour, then the connections close.
  void close() noexcept;

 private:
  struct Connection {
    int rank = 0;
    net::Socket socket;
    detail::Clock::time_point last_heard;
    std::chrono::milliseconds stall_timeout{0};  // the neighbour's: how often it needs a beat
    std::uint64_t missed = 0;                    // beats missed since it was last heard
    std::array<std::byte, kFrameSize> partial{};
    std::size_t partial_size = 0;
    bool closing_seen = false;  // the neighbour closes in order: no more judging or writing
    bool end_expected = false;  // after a Closing or a Notice: its end is no news
    bool write_shut = false;    // this end sent its last frame
    bool judged = false;        // declared stalled: its frames no longer count
    bool open = true;
  };

  void run();
  void read_from(Connection& connection, detail::Clock::time_point now);
  void judge(Connection& connection, detail::Clock::time_point now);
  // Adds the beats `connection` has missed since the last judgement to beats_missed_.
  void count_missed_beats(Connection& connection, detail::Clock::time_point now) noexcept;
  void end(Connection& connection) noexcept;
  // Sends nothing more: the neighbour reads every frame before the end (a close with unread
  // input would reset the connection, which can destroy frames the neighbour has not read).
  static void shut_writes(Connection& connection) noexcept;
  // Writes one frame; false (and the connection ends) if it cannot be written whole.
  bool send(Connection& connection, const Frame& frame) noexcept;
  void post(Event event);
  [[nodiscard]] Connection accept_pred(int pred, const Hello& hello,
                                       const detail::Deadline& deadline);

  int rank_;
  std::chrono::milliseconds stall_timeout_;
  std::function<void()> wake_;
  net::Socket listener_;
  std::uint16_t port_ = 0;
  std::array<std::byte, kSecretSize> secret_{};
  std::chrono::milliseconds beat_interval_{1000};

  std::mutex io_mutex_;  // guards the connections' sockets (the Ring's thread writes notices)
  std::vector<Connection> connections_;

  std::mutex events_mutex_;
  std::vector<Event> events_;
  std::atomic<bool> has_events_{false};
  std::atomic<std::uint64_t> beats_missed_{0};  // written by the monitor's thread only

  net::Socket stop_fd_;  // eventfd: wakes the thread to stop
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ringpipe::liveness
