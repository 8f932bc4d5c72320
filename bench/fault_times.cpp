// fault_times: detection time of rank faults, measured on a ring of forked ranks on 127.0.0.1.
//
// Per run the parent binds the rendezvous port (port 0), forks the ranks before any ringpipe or
// UCX object exists (rank 0 gets the socket as Options::listen_fd), waits until every rank
// streams, applies the fault to the victim and collects each survivor's first failure. Every
// wait has a deadline, and every child is killed when its run ends, when the parent fails, or
// when it is interrupted.
#include "fault_times.hpp"
#include "args.hpp"

#include <ringpipe/error.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace fault_times {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = 30s;   // fork to every rank streaming (rendezvous deadline: 20 s)
constexpr auto kFaultedTimeout = 5s;  // the victim notices the close command between rounds
// Beyond the ranks' own wait deadline, before a silent survivor counts as hung.
constexpr auto kReportMargin = 5s;
constexpr auto kReapTimeout = 10s;

// --- Children: killed on every way out ---------------------------------------------------------

constexpr std::array<int, 4> kForwardedSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
volatile sig_atomic_t g_child_count = 0;
volatile pid_t g_children[kMaxWorld];

void kill_children_on_signal(int signal) {
  for (sig_atomic_t i = 0; i < g_child_count; ++i) ::kill(g_children[i], SIGKILL);
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() { kill_all(); }

  void add(pid_t pid) {
    pids_.push_back(pid);
    g_children[g_child_count] = pid;
    g_child_count = g_child_count + 1;
  }
  [[nodiscard]] pid_t pid(int rank) const { return pids_[static_cast<std::size_t>(rank)]; }

  // Reaps a rank just killed, as a launcher would at once: until then it is a zombie, which
  // UCX's shared-memory transports still take for a live process.
  bool reap(int rank, std::chrono::milliseconds timeout) {
    pid_t& pid = pids_[static_cast<std::size_t>(rank)];
    const auto deadline = Clock::now() + timeout;
    while (pid > 0 && Clock::now() < deadline) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -pid;
        break;
      }
      std::this_thread::sleep_for(100us);
    }
    return pid <= 0;
  }

  // The first rank other than `except` that has exited, with a description; -1 if none.
  int exited(int except, std::string& how) {
    for (std::size_t rank = 0; rank < pids_.size(); ++rank) {
      int status = 0;
      if (static_cast<int>(rank) == except || pids_[rank] <= 0 ||
          ::waitpid(pids_[rank], &status, WNOHANG) != pids_[rank]) {
        continue;
      }
      pids_[rank] = -pids_[rank];  // reaped
      how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                : "exited with status " + std::to_string(WEXITSTATUS(status));
      return static_cast<int>(rank);
    }
    return -1;
  }

  void kill_all() {
    for (const pid_t pid : pids_) {
      if (pid <= 0) continue;
      ::kill(pid, SIGKILL);
      ::kill(pid, SIGCONT);  // a stopped process dies of SIGKILL too; this only makes sure
    }
    const auto deadline = Clock::now() + kReapTimeout;
    for (pid_t& pid : pids_) {
      while (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) != pid) {
        if (Clock::now() > deadline) {
          std::fprintf(stderr, "fault_times: process %d did not die within %lld s\n", pid,
                       static_cast<long long>(kReapTimeout.count()));
          break;
        }
        std::this_thread::sleep_for(5ms);
      }
      if (pid > 0) pid = -pid;
    }
    g_child_count = 0;
  }

 private:
  std::vector<pid_t> pids_;
};

// --- Descriptors -------------------------------------------------------------------------------

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

[[noreturn]] void fail_system(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

Fd listen_on_loopback(std::uint16_t& port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) ||
      ::listen(fd.get(), SOMAXCONN) ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length)) {
    fail_system("cannot listen on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::pair<Fd, Fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_system("pipe");
  return {Fd(fds[0]), Fd(fds[1])};
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
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, static_cast<int>(left.count()) + 1) <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;  // every rank is gone
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }

 private:
  int fd_;
  std::vector<char> buffer_;
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
  auto [report_in, report_out] = make_pipe();
  std::vector<std::pair<Fd, Fd>> control;
  for (int rank = 0; rank < config.world; ++rank) control.push_back(make_pipe());
  std::random_device random;
  const std::uint64_t job_id = (std::uint64_t{random()} << 32) | random();

  Children children;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  for (int rank = 0; rank < config.world; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) fail_system("fork");
    if (pid == 0) {
      // A rank must not kill its siblings: the parent's handlers and list stay behind.
      g_child_count = 0;
      for (const int signal : kForwardedSignals) ::signal(signal, SIG_DFL);
      RankPlan plan;
      plan.config = &config;
      plan.fault = fault;
      plan.rank = rank;
      plan.port = port;
      plan.listen_fd = rank == 0 ? listener.get() : -1;
      plan.job_id = job_id;
      plan.report_fd = report_out.get();
      plan.control_fd = control[static_cast<std::size_t>(rank)].first.get();
      plan.parent = parent;
      run_rank(plan);
    }
    children.add(pid);
  }
  listener.reset();
  report_out.reset();
  for (auto& [read_end, write_end] : control) read_end.reset();

  ReportReader reader(report_in.get());
  std::string how;
  // Every rank streams.
  const auto ready_deadline = Clock::now() + kReadyTimeout;
  std::vector<bool> ready(static_cast<std::size_t>(config.world), false);
  int ready_count = 0;
  while (ready_count < config.world) {
    if (const int rank = children.exited(-1, how); rank >= 0) {
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
      ::kill(children.pid(victim), fault == Fault::Kill ? SIGKILL : SIGSTOP);
      if (fault == Fault::Kill && !children.reap(victim, kReapTimeout)) {
        return fail("the victim did not die of SIGKILL");
      }
      break;
    case Fault::Close:
    case Fault::Abort: {
      const char command = 'x';
      if (::write(control[static_cast<std::size_t>(victim)].second.get(), &command, 1) != 1) {
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
    if (const int rank = children.exited(victim, how); rank >= 0) {
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
  for (const int signal : kForwardedSignals) ::signal(signal, kill_children_on_signal);
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
