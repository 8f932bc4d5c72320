// ringpipe-run: starts N ranks of a program on one host with a ringpipe rendezvous (like torchrun).
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <ringpipe/version.hpp>

#include "launcher/options.hpp"
#include "launcher/output.hpp"
#include "launcher/spawn.hpp"

namespace ringpipe_run {
namespace {

using Clock = std::chrono::steady_clock;

// Reaping is driven by SIGCHLD; the tick only bounds how long a lost wakeup could delay it.
constexpr std::chrono::milliseconds kTick{250};
// After SIGKILL, how long to wait for output pipes held open by stray grandchildren.
constexpr std::chrono::milliseconds kAbandonAfterKill{1000};
constexpr int kLauncherFailure = 1;
constexpr int kUsageFailure = 2;
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Write end of the self-pipe: signal handlers only write the signal number there, and the poll
// loop does the real work outside signal context.
int g_signal_pipe = -1;

void on_signal(int sig) {
  const int saved_errno = errno;
  const auto byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t ignored = ::write(g_signal_pipe, &byte, 1);
  errno = saved_errno;
}

std::string signal_name(int sig) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
      {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
      {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
      {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"}};
  for (const auto& [number, name] : kNames) {
    if (number == sig) return name;
  }
  return "signal " + std::to_string(sig);
}

struct Rank {
  pid_t pid;
  bool running;
  RankStream out;
  RankStream err;
};

// Owns the ranks from spawn to reaping: forwards their output, relays signals, and tears the
// job down as soon as one rank fails, since the ring cannot make progress without it.
class Supervisor {
 public:
  Supervisor(std::chrono::milliseconds grace, int signal_fd)
      : grace_(grace), signal_fd_(signal_fd) {}

  void add(const RankProcess& process) {
    const int rank = static_cast<int>(ranks_.size());
    ranks_.push_back(Rank{process.pid, true, RankStream(rank, process.stdout_fd, STDOUT_FILENO),
                          RankStream(rank, process.stderr_fd, STDERR_FILENO)});
    ++running_;
  }

  // The launcher could not start every rank; the ones already running are useless.
  void abort_launch() {
    record_failure(kLauncherFailure);
    shut_down(SIGTERM);
  }

  int run() {
    while (running_ > 0 || any_stream_open()) {
      // Ranks are gone but something they started still holds a pipe: give it the grace period.
      if (running_ == 0 && !kill_at_) kill_at_ = Clock::now() + grace_;
      poll_once();
      reap();
      enforce_deadlines();
    }
    if (failed_) return exit_code_;
    return received_signal_ != 0 ? 128 + received_signal_ : 0;
  }

 private:
  void poll_once() {
    std::vector<pollfd> fds{{signal_fd_, POLLIN, 0}};
    std::vector<RankStream*> streams{nullptr};
    for (Rank& rank : ranks_) {
      for (RankStream* stream : {&rank.out, &rank.err}) {
        if (!stream->is_open()) continue;
        fds.push_back({stream->fd(), POLLIN, 0});
        streams.push_back(stream);
      }
    }
    if (::poll(fds.data(), fds.size(), poll_timeout_ms()) <= 0) return;  // Timeout or EINTR.
    if (fds[0].revents != 0) drain_signals();
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) streams[i]->on_readable();
    }
  }

  int poll_timeout_ms() const {
    auto timeout = std::chrono::duration_cast<Clock::duration>(kTick);
    const auto now = Clock::now();
    for (const auto& deadline : {kill_at_, abandon_at_}) {
      if (deadline) timeout = std::min(timeout, std::max(*deadline - now, Clock::duration{0}));
    }
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(timeout).count());
  }

  void drain_signals() {
    unsigned char buffer[64];
    ssize_t n;
    while ((n = ::read(signal_fd_, buffer, sizeof(buffer))) > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        const int sig = buffer[i];
        if (sig == SIGCHLD) continue;  // reap() runs after every poll.
        if (received_signal_ == 0) received_signal_ = sig;
        shut_down(sig);
      }
    }
  }

  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid < 0 && errno == EINTR) continue;
      if (pid <= 0) return;
      const auto it = std::find_if(ranks_.begin(), ranks_.end(),
                                   [pid](const Rank& rank) { return rank.pid == pid; });
      if (it == ranks_.end()) continue;
      it->running = false;
      --running_;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;

      const auto rank = std::to_string(it - ranks_.begin());
      if (failed_) continue;  // Only the first failure explains what went wrong.
      if (WIFSIGNALED(status)) {
        print_error("rank " + rank + " killed by signal " + signal_name(WTERMSIG(status)));
        record_failure(128 + WTERMSIG(status));
      } else {
        print_error("rank " + rank + " exited with status " + std::to_string(WEXITSTATUS(status)));
        record_failure(WEXITSTATUS(status));
      }
      shut_down(SIGTERM);
    }
  }

  void record_failure(int exit_code) {
    if (failed_) return;
    failed_ = true;
    exit_code_ = exit_code;
  }

  // Signals whole process groups so that whatever a rank started (e.g. under `sh -c`) goes too,
  // then arms the SIGKILL deadline for ranks that ignore it.
  void shut_down(int sig) {
    signal_ranks(sig, /*include_exited=*/false);
    if (!kill_at_) kill_at_ = Clock::now() + grace_;
  }

  void signal_ranks(int sig, bool include_exited) {
    for (const Rank& rank : ranks_) {
      // An exited rank's group is only signalled while its pipes show that members remain;
      // otherwise the id could by now name someone else's group.
      const bool group_alive = rank.out.is_open() || rank.err.is_open();
      if (rank.running || (include_exited && group_alive)) ::kill(-rank.pid, sig);
    }
  }

  void enforce_deadlines() {
    const auto now = Clock::now();
    if (kill_at_ && now >= *kill_at_ && !abandon_at_) {
      signal_ranks(SIGKILL, /*include_exited=*/true);
      abandon_at_ = now + kAbandonAfterKill;
    }
    if (abandon_at_ && now >= *abandon_at_) {
      // A process outside the ranks' groups still holds a pipe; stop waiting for its output.
      for (Rank& rank : ranks_) {
        rank.out.close();
        rank.err.close();
      }
    }
  }

  bool any_stream_open() const {
    return std::any_of(ranks_.begin(), ranks_.end(),
                       [](const Rank& rank) { return rank.out.is_open() || rank.err.is_open(); });
  }

  std::chrono::milliseconds grace_;
  int signal_fd_;
  std::vector<Rank> ranks_;
  int running_ = 0;
  bool failed_ = false;
  int exit_code_ = 0;
  int received_signal_ = 0;
  std::optional<Clock::time_point> kill_at_;
  std::optional<Clock::time_point> abandon_at_;
};

// Ranks' pipes and the listening socket must never land on 0-2, where dup2 in the child would
// clobber them, so a launcher started with closed standard fds gets /dev/null there.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
  }
}

// Two pipes per rank exceed the common soft limit of 1024 fds for large jobs.
bool raise_fd_limit(int world_size, rlimit& original) {
  if (::getrlimit(RLIMIT_NOFILE, &original) != 0) return true;
  const rlim_t needed = 2 * static_cast<rlim_t>(world_size) + 32;
  if (original.rlim_cur == RLIM_INFINITY || original.rlim_cur >= needed) return true;
  rlimit raised = original;
  raised.rlim_cur =
      original.rlim_max == RLIM_INFINITY ? needed : std::min<rlim_t>(original.rlim_max, needed);
  ::setrlimit(RLIMIT_NOFILE, &raised);
  if (raised.rlim_cur >= needed) return true;
  print_error("the open file limit (" + std::to_string(original.rlim_max) + ") is too low for " +
              std::to_string(world_size) + " ranks");
  return false;
}

std::optional<int> install_signal_handlers() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    print_error(std::string("pipe: ") + std::strerror(errno));
    return std::nullopt;
  }
  g_signal_pipe = fds[1];
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  for (const int sig : kForwardedSignals) ::sigaction(sig, &action, nullptr);
  ::sigaction(SIGCHLD, &action, nullptr);
  // A closed stdout must not kill the launcher before it has stopped the ranks.
  ::signal(SIGPIPE, SIG_IGN);
  return fds[0];
}

int run_job(const Options& options) {
  Job job;
  job.world_size = options.world_size;
  job.comm_device = options.comm_device;
  if (!raise_fd_limit(options.world_size, job.original_nofile)) return kLauncherFailure;
  const std::optional<int> signal_fd = install_signal_handlers();
  if (!signal_fd || !open_listen_socket(job) || !make_credentials(job)) return kLauncherFailure;

  Supervisor supervisor(options.grace, *signal_fd);
  // Held back while forking so that no child runs the launcher's handlers, and so that a
  // Ctrl-C during startup is seen only after every started rank is known to the supervisor.
  sigset_t blocked;
  sigemptyset(&blocked);
  for (const int sig : kForwardedSignals) sigaddset(&blocked, sig);
  sigaddset(&blocked, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &blocked, &job.original_mask);
  bool launched = true;
  for (int rank = 0; rank < options.world_size && launched; ++rank) {
    const std::optional<RankProcess> process = spawn_rank(job, options.program, rank);
    if (process) {
      supervisor.add(*process);
    } else {
      launched = false;
    }
  }
  ::close(job.listen_fd);  // Rank 0 owns it now; the launcher must not keep connections queued.
  if (!launched) supervisor.abort_launch();
  ::sigprocmask(SIG_SETMASK, &job.original_mask, nullptr);
  const int status = supervisor.run();
  ::close(job.torch_port_fd);  // MASTER_PORT stayed reserved while any rank could use it.
  return status;
}

}  // namespace
}  // namespace ringpipe_run

int main(int argc, char** argv) {
  using namespace ringpipe_run;
  ensure_standard_fds();
  const ParseResult parsed = parse_options(argc, argv);
  switch (parsed.status) {
    case ParseStatus::Help:
      write_all(STDOUT_FILENO, usage());
      return 0;
    case ParseStatus::Version:
      write_all(STDOUT_FILENO, std::string("ringpipe-run ") + RINGPIPE_VERSION_STRING + "\n");
      return 0;
    case ParseStatus::Error:
      print_error(parsed.error);
      write_all(STDERR_FILENO, usage());
      return kUsageFailure;
    case ParseStatus::Run:
      break;
  }
  return run_job(parsed.options);
}
