// Test helper: a rendezvous head on a thread of the test process, driven by clients the test
// makes (threads with the real client, or raw sockets).
#pragma once

#include <ringpipe/error.hpp>

#include "deadline.hpp"
#include "net/socket.hpp"
#include "rendezvous/server.hpp"
#include "ringpipe_config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace ringpipe::test {

// The job id of every HeadThread's ring.
inline constexpr std::uint64_t kHeadJobId = 7;

// A head for `world_size` ranks listening on `host` (port 0); run()'s outcome is kept for the
// test. Stopped, if still running, when destroyed.
class HeadThread {
 public:
  HeadThread(int world_size, std::chrono::milliseconds hello_timeout,
             std::chrono::milliseconds timeout, std::string token = {},
             const std::string& host = "127.0.0.1")
      : server_(net::listen_on(host, 0),
                rendezvous::ServerConfig{world_size, kHeadJobId, 0, RINGPIPE_VERSION, hello_timeout,
                                         std::move(token)}),
        thread_([this, timeout] {
          try {
            server_.run(detail::Deadline(timeout), stop_);
            code_ = std::nullopt;
          } catch (const Error& error) {
            code_ = error.code();
            what_ = error.what();
          }
          finished_ = true;
        }) {}
  HeadThread(const HeadThread&) = delete;
  HeadThread& operator=(const HeadThread&) = delete;
  ~HeadThread() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  [[nodiscard]] bool finished() const { return finished_; }
  void join() { thread_.join(); }
  // After join(): the code run() threw, or nullopt if every rank was released.
  [[nodiscard]] std::optional<Errc> code() const { return code_; }
  [[nodiscard]] const std::string& what() const { return what_; }

 private:
  rendezvous::RendezvousServer server_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::optional<Errc> code_ = Errc::Internal;
  std::string what_;
  std::thread thread_;  // last: starts once everything it uses exists
};

}  // namespace ringpipe::test
