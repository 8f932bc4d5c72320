// fault_times: the rank processes. Each joins the ring, streams messages to its successor while
// receiving from its predecessor, and reports its first failed operation to the parent.
#include "fault_times.hpp"

#include "stamp.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>

namespace fault_times {
namespace {

constexpr int kReadyRounds = 3;
// A rank left waiting after its report is killed by the parent; this only bounds an orphan.
constexpr auto kOrphanLimit = std::chrono::seconds(60);

void send_report(int fd, Report report) {
  // One write of less than PIPE_BUF: atomic, never interleaved with another rank's.
  [[maybe_unused]] const ssize_t written = ::write(fd, &report, sizeof report);
}

Report make_report(int rank, Report::Kind kind, std::string_view what = {}) {
  Report report;
  report.rank = rank;
  report.kind = kind;
  report.time_ns = monotonic_ns();
  const std::size_t length = std::min(what.size(), report.what.size() - 1);
  if (length > 0) std::memcpy(report.what.data(), what.data(), length);
  return report;
}

using ringpipe::tools::stamp;
using ringpipe::tools::stamped;

std::uint64_t word_of(int sender, std::uint64_t round) {
  return (std::uint64_t{static_cast<std::uint32_t>(sender)} << 40) | round;
}

bool readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return fd >= 0 && ::poll(&entry, 1, 0) > 0;
}

// Keeps the process (and whatever ring it still holds) alive until the parent kills it.
[[noreturn]] void hold() {
  const auto until = std::chrono::steady_clock::now() + kOrphanLimit;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::_exit(0);
}

ringpipe::Options options_of(const RankPlan& plan) {
  ringpipe::Options options;
  options.head = "127.0.0.1";
  options.port = plan.port;
  options.listen_fd = plan.listen_fd;
  options.world_size = plan.config->world;
  options.rank = plan.rank;
  options.local_rank = plan.rank;
  options.job_id = plan.job_id;
  options.rendezvous_timeout = std::chrono::seconds(20);
  options.op_timeout = plan.config->op_timeout;
  options.liveness_timeout = plan.config->liveness;
  return options;
}

[[noreturn]] void stream_and_report(const RankPlan& plan) {
  const Config& config = *plan.config;
  const int rank = plan.rank;
  std::optional<ringpipe::Ring> ring;
  try {
    ring.emplace(options_of(plan));
  } catch (const std::exception& error) {
    send_report(plan.report_fd, make_report(rank, Report::NoJoin, error.what()));
    ::_exit(1);
  }
  const int pred = (rank - 1 + config.world) % config.world;
  const bool victim = rank == config.victim;
  std::vector<std::uint8_t> out(config.size), in(config.size);
  for (std::uint64_t round = 0;; ++round) {
    if (victim && readable(plan.control_fd)) {
      // Between rounds, with nothing pending: the close is orderly.
      send_report(plan.report_fd, make_report(rank, Report::Faulted));
      if (plan.fault == Fault::Abort) {
        ring->abort();
      } else {
        ring.reset();
      }
      hold();
    }
    stamp(out, config.size, word_of(rank, round));
    // Declared outside the try: unwinding would destroy them first, and a pending send's
    // destructor waits up to the operation timeout, which would delay and misdate the report.
    ringpipe::Request receive, send;
    try {
      receive = ring->pred().irecv(in.data(), in.size(), 1);
      send = ring->succ().isend(out.data(), config.size, 1);
      receive.wait();
      send.wait();
    } catch (const ringpipe::Error& error) {
      Report report = make_report(rank, Report::Failed, error.what());
      report.code = static_cast<std::int32_t>(error.code());
      send_report(plan.report_fd, report);
      // Holding the failed ring keeps this rank from telling the others `Closed`: each
      // reports what the library told it about the fault itself.
      hold();
    } catch (const std::exception& error) {
      send_report(plan.report_fd, make_report(rank, Report::Failed, error.what()));
      hold();
    }
    if (receive.bytes() != config.size || !stamped(in, config.size, word_of(pred, round))) {
      send_report(plan.report_fd,
                  make_report(rank, Report::Corrupt,
                              "round " + std::to_string(round) + ": a receive from rank " +
                                  std::to_string(pred) + " completed without an error, with " +
                                  std::to_string(receive.bytes()) + " of " +
                                  std::to_string(config.size) + " bytes or the wrong stamp"));
      hold();
    }
    if (round + 1 == kReadyRounds) send_report(plan.report_fd, make_report(rank, Report::Ready));
  }
}

}  // namespace

[[noreturn]] void run_rank(const RankPlan& plan) {
  try {
    stream_and_report(plan);
  } catch (const std::exception& error) {
    // Never unwind into the parent's code, which this process shares after fork.
    send_report(plan.report_fd, make_report(plan.rank, Report::Failed, error.what()));
  }
  ::_exit(2);
}

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace fault_times
