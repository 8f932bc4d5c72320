// fault_times: detection time of rank faults, measured on a ring of forked ranks on 127.0.0.1.
//
// Per run the parent binds the rendezvous port (port 0), forks the ranks before any ringpipe or
// UCX object exists (rank 0 gets the socket as Options::listen_fd), waits until every rank
// streams, applies the fault to the victim and collects each survivor's first failure. Every
// wait has a deadline, and every child is killed when its run ends, when the parent fails, or
// when it is interrupted.
#include "fault_times.hpp"
#include "args.hpp"

#include "process/child.hpp"
#include "process/fd.hpp"
#include "process/kill_on_signal.hpp"
#include "process/loopback_listener.hpp"
#include "process/output.hpp"

#include <ringpipe/error.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

namespace fault_times {
namespace {

namespace process = ringpipe::process;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = 30s;   // fork to every rank streaming (rendezvous deadline: 20 s)
constexpr auto kFaultedTimeout = 5s;  // the victim notices the close command between rounds
// Beyond the ranks' own wait deadline, before a silent survivor counts as hung.
constexpr auto kReportMargin = 5s;
constexpr auto kReapTimeout = 10s;

// --- The ranks of one run: killed and reaped on every way out ------------------------------------

class Ranks {
 public:
  Ranks() = default;
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;
  ~Ranks() { kill_all(); }

  void add(pid_t pid) {
    process::watch_child(pid);
    children_.emplace_back(pid);
  }
  [[nodiscard]] pid_t pid(int rank) const {
    return children_[static_cast<std::size_t>(rank)].pid();
  }

  // Reaps a rank just killed, as a launcher would at once: until then it is a zombie, which
  // UCX's shared-memory transports still take for a live process.
  bool reap(int rank, std::chrono::milliseconds timeout) {
    return children_[static_cast<std::size_t>(rank)].reap_until(Clock::now() + timeout, 100us);
  }

  // The first rank other than `except` that has exited, with a description; -1 if none.
  int exited(int except, std::string& how) {
    for (std::size_t rank = 0; rank < children_.size(); ++rank) {
      if (static_cast<int>(rank) == except) continue;
      const std::optional<int> status = children_[rank].try_reap();
      if (!status) continue;
      how = WIFSIGNALED(*status) ? "killed by signal " + std::to_string(WTERMSIG(*status))
                                 : "exited with status " + std::to_string(WEXITSTATUS(*status));
      return static_cast<int>(rank);
    }
    return -1;
  }

  void kill_all() {
    for (const process::Child& child : children_) {
      child.signal(SIGKILL);
      child.signal(SIGCONT);  // a stopped process dies of SIGKILL too; this only makes sure
    }
    const auto deadline = Clock::now() + kReapTimeout;
    for (process::Child& child : children_) {
      if (child.reap_until(deadline, 5ms)) continue;
      std::fprintf(stderr, "fault_times: process %d did not die within %lld s\n", child.pid(),
                   static_cast<long long>(kReapTimeout.count()));
      child.release();
    }
    process::forget_all_children();
  }

 private:
  std::vector<process::Child> children_;
};

// --- Descriptors -------------------------------------------------------------------------------

using process::Fd;

[[noreturn]] void fail_system(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

Fd listen_on_loopback(std::uint16_t& port) {
  Fd fd = process::listen_on_loopback(port);
  if (!fd.is_open()) fail_system("cannot listen on 127.0.0.1");
  return fd;
}

process::Pipe make_pipe() {
  process::Pipe pipe;
  if (!process::open_pipe(pipe)) fail_system("pipe");
  return pipe;
}

// Reads whole Reports from the ranks' shared pipe.
class ReportReader {
 public:
  explicit ReportReader(int fd) : fd_(fd) {}

  // The next report, or nullopt once `deadline` (or a slice of at most `slice`) passed.
  std::optional<Report> next(Clock::time_point deadline, std::chrono::milliseconds slice) {
    while (true) {
      if (buffer_.size() >= sizeof(Report)) {
        Report report;
        std::memcpy(&report, buffer_.data(), sizeof report);
        buffer_.erase(buffer_.begin(), buffer_.begin() + sizeof report);
        return report;
      }
      const auto left = std::min(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), slice);
      if (left.count() <= 0) return std::nullopt;
      // Closed: every rank is gone.
      if (process::read_within(fd_, left + 1ms, buffer_) != process::ReadResult::Data) {
        return std::nullopt;
      }
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

std::string code_name(std::int32_t code) {
  if (code < 0) return "exception";
  return std::string(ringpipe::to_string(static_cast<ringpipe::Errc>(code)));
}

std::string text_of(const Report& report) {
  return std::string(report.what.data(), strnlen(report.what.data(), report.what.size()));
}

std::string describe_report(const Report& report) {
  switch (report.kind) {
    case Report::Ready:
      return "ready";
    case Report::Failed:
      return code_name(report.code) + " (" + text_of(report) + ")";
    case Report::Faulted:
      return "faulted";
    case Report::NoJoin:
      return "the ring did not form: " + text_of(report);
    case Report::Corrupt:
      return "damaged data: " + text_of(report);
  }
  return "unknown report " + std::to_string(report.kind);
}

// --- One run -----------------------------------------------------------------------------------

RunResult run_once(const Config& config, Fault fault) {
  RunResult result;
  const auto fail = [&result](std::string error) {
    result.error = std::move(error);
    return result;
  };
  std::uint16_t port = 0;
  Fd listener = listen_on_loopback(port);
  process::Pipe reports = make_pipe();
  std::vector<process::Pipe> control;
  for (int rank = 0; rank < config.world; ++rank) control.push_back(make_pipe());
  std::random_device random;
  const std::uint64_t job_id = (std::uint64_t{random()} << 32) | random();

  Ranks ranks;
  std::fflush(stdout);
  std::fflush(stderr);
  process::ChildSetup setup;
  // Dies with the parent, even if the parent is killed before it can kill its children.
  setup.die_with_parent = 1;
  // A rank must not kill its siblings: the parent's handlers stay behind.
  setup.default_signals.assign(process::kInterruptSignals.begin(),
                               process::kInterruptSignals.end());
  for (int rank = 0; rank < config.world; ++rank) {
    const pid_t pid = process::spawn(setup, [&] {
      RankPlan plan;
      plan.config = &config;
      plan.fault = fault;
      plan.rank = rank;
      plan.port = port;
      plan.listen_fd = rank == 0 ? listener.get() : -1;
      plan.job_id = job_id;
      plan.report_fd = reports.write.get();
      plan.control_fd = control[static_cast<std::size_t>(rank)].read.get();
      run_rank(plan);
    });
    if (pid < 0) fail_system("fork");
    ranks.add(pid);
  }
  listener.reset();
  reports.write.reset();
  for (process::Pipe& pipe : control) pipe.read.reset();

  ReportReader reader(reports.read.get());
  std::string how;
  // Every rank streams.
  const auto ready_deadline = Clock::now() + kReadyTimeout;
  std::vector<bool> ready(static_cast<std::size_t>(config.world), false);
  int ready_count = 0;
  while (ready_count < config.world) {
    if (const int rank = ranks.exited(-1, how); rank >= 0) {
      return fail("rank " + std::to_string(rank) + " " + how + " before streaming");
    }
    if (Clock::now() > ready_deadline) return fail("the ring was not streaming within 30 s");
    const std::optional<Report> report = reader.next(ready_deadline, 100ms);
    if (!report) continue;
    if (report->kind != Report::Ready) {
      return fail("rank " + std::to_string(report->rank) +
                  " before the fault: " + describe_report(*report));
    }
    if (!ready[static_cast<std::size_t>(report->rank)]) ++ready_count;
    ready[static_cast<std::size_t>(report->rank)] = true;
  }
  // Streaming for a while, so the fault lands mid-transfer.
  if (const std::optional<Report> early =
          reader.next(Clock::now() + config.warmup, config.warmup)) {
    return fail("rank " + std::to_string(early->rank) +
                " before the fault: " + describe_report(*early));
  }

  const int victim = config.victim;
  std::int64_t fault_ns = 0;
  switch (fault) {
    case Fault::Kill:
    case Fault::Stop:
      fault_ns = monotonic_ns();
      ::kill(ranks.pid(victim), fault == Fault::Kill ? SIGKILL : SIGSTOP);
      if (fault == Fault::Kill && !ranks.reap(victim, kReapTimeout)) {
        return fail("the victim did not die of SIGKILL");
      }
      break;
    case Fault::Close:
    case Fault::Abort: {
      const char command = 'x';
      if (::write(control[static_cast<std::size_t>(victim)].write.get(), &command, 1) != 1) {
        fail_system("cannot signal the victim");
      }
      const auto deadline = Clock::now() + kFaultedTimeout;
      std::optional<Report> report;
      while (!report || report->rank != victim) {
        report = reader.next(deadline, 100ms);
        if (!report && Clock::now() > deadline) {
          return fail("the victim did not close its ring within 5 s");
        }
        if (report && report->rank != victim) {
          return fail("rank " + std::to_string(report->rank) +
                      " before the fault: " + describe_report(*report));
        }
      }
      if (report->kind != Report::Faulted) {
        return fail("the victim, instead of closing: " + describe_report(*report));
      }
      fault_ns = report->time_ns;
      break;
    }
  }

  // Each survivor's first failure. Their waits end at the operation timeout, so one that
  // reports nothing by then plus a margin has hung.
  const auto report_deadline = Clock::now() + config.op_timeout + kReportMargin;
  std::vector<Detection> found;
  for (int rank = 0; rank < config.world; ++rank) {
    if (rank == victim) continue;
    Detection detection;
    detection.rank = rank;
    detection.distance = distance(rank, victim, config.world);
    found.push_back(detection);
  }
  std::size_t reported = 0;
  std::string wrong_data;
  while (reported < found.size() && Clock::now() < report_deadline) {
    if (const int rank = ranks.exited(victim, how); rank >= 0) {
      return fail("rank " + std::to_string(rank) + " " + how + " after the fault");
    }
    const std::optional<Report> report = reader.next(report_deadline, 100ms);
    if (!report || report->rank == victim) continue;
    if (report->kind != Report::Failed && report->kind != Report::Corrupt) {
      return fail("rank " + std::to_string(report->rank) + ": " + describe_report(*report));
    }
    // A receive that completes without an error but without its data is a failure the library
    // did not report: counted, and the run fails.
    const bool corrupt = report->kind == Report::Corrupt;
    if (corrupt) wrong_data += "; rank " + std::to_string(report->rank) + ": " + text_of(*report);
    for (Detection& detection : found) {
      if (detection.rank != report->rank || detection.reported) continue;
      detection.reported = true;
      detection.code = corrupt ? std::string(kWrongData) : code_name(report->code);
      detection.detect_ms = static_cast<double>(report->time_ns - fault_ns) / 1e6;
      detection.what = text_of(*report);
      ++reported;
    }
  }
  result.survivors = std::move(found);
  if (!wrong_data.empty()) result.error = "wrong data after the fault" + wrong_data;
  if (reported < result.survivors.size()) {
    std::string silent;
    for (const Detection& detection : result.survivors) {
      if (!detection.reported) silent += " " + std::to_string(detection.rank);
    }
    result.error += std::string(result.error.empty() ? "" : "; ") + "ranks" + silent +
                    " reported nothing within the operation timeout + " +
                    std::to_string(kReportMargin.count()) + " s: hung";
  }
  return result;
}

}  // namespace
}  // namespace fault_times

int main(int argc, char** argv) {
  using namespace fault_times;
  Config config;
  if (const int status = parse_args(argc, argv, config); status != 0) return status == 1 ? 0 : 2;
  process::kill_children_on_signal();
  // ringpipe warns about every failed link; the table says it better.
  ::setenv("RINGPIPE_LOG", "error", /*overwrite=*/0);

  std::vector<ScenarioResult> scenarios;
  int failed_runs = 0;
  try {
    for (const Fault fault : config.faults) {
      ScenarioResult scenario;
      scenario.fault = fault;
      for (int run = 0; run < config.runs; ++run) {
        RunResult result = run_once(config, fault);
        if (!result.error.empty()) {
          ++failed_runs;
          std::fprintf(stderr, "fault_times: %s run %d: %s\n",
                       std::string(to_string(fault)).c_str(), run + 1, result.error.c_str());
        }
        scenario.runs.push_back(std::move(result));
      }
      scenarios.push_back(std::move(scenario));
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "fault_times: %s\n", error.what());
    return 1;
  }
  print_table(config, scenarios);
  if (!config.json_path.empty()) write_json(config, scenarios);
  return failed_runs == 0 ? 0 : 1;
}
