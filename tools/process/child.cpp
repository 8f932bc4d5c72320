// Child processes of a harness: started with everything prepared before fork, signalled, and
// reaped with a deadline.
#include "child.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "kill_on_signal.hpp"

extern char** environ;

namespace ringpipe::process {
namespace {

using Clock = std::chrono::steady_clock;

// A dropped child that was never reaped: SIGKILL leaves it no way to linger longer.
constexpr std::chrono::milliseconds kDropReapTimeout{10000};
constexpr std::chrono::milliseconds kDropReapInterval{5};

constexpr int kBodyReturnedStatus = 127;

// Runs in the forked child: only calls that are safe between fork and exec.
void apply(const ChildSetup& setup, pid_t parent) {
  if (setup.own_process_group) ::setpgid(0, 0);
  if (setup.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A parent that died before prctl left the child to another reaper: no signal will come.
    if (::getppid() != parent) ::_exit(*setup.die_with_parent);
  }
  for (const int signal : setup.default_signals) ::signal(signal, SIG_DFL);
  if (setup.signal_mask != nullptr) ::sigprocmask(SIG_SETMASK, setup.signal_mask, nullptr);
  if (setup.open_file_limit != nullptr) ::setrlimit(RLIMIT_NOFILE, setup.open_file_limit);
  if (setup.stdin_from_dev_null) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != STDIN_FILENO) {
      ::dup2(null_fd, STDIN_FILENO);
      ::close(null_fd);
    }
  }
  // Pipe ends are close-on-exec; their copies on the standard descriptors are not.
  if (setup.stdout_fd >= 0) ::dup2(setup.stdout_fd, STDOUT_FILENO);
  if (setup.stderr_fd >= 0) ::dup2(setup.stderr_fd, STDERR_FILENO);
  for (const int fd : setup.inherited_fds) ::fcntl(fd, F_SETFD, 0);
}

}  // namespace

Command::Command(std::vector<std::string> argv, std::vector<std::string> env)
    : strings_(std::move(argv)) {
  const std::size_t argc = strings_.size();
  strings_.insert(strings_.end(), std::make_move_iterator(env.begin()),
                  std::make_move_iterator(env.end()));
  for (std::size_t i = 0; i < strings_.size(); ++i) {
    (i < argc ? argv_ : envp_).push_back(strings_[i].data());
  }
  argv_.push_back(nullptr);
  envp_.push_back(nullptr);
}

void Command::exec() const {
  environ = const_cast<char**>(envp_.data());
  ::execvp(argv_[0], argv_.data());
}

pid_t spawn(const ChildSetup& setup, const std::function<void()>& body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    forget_all_children();
    apply(setup, parent);
    body();
    ::_exit(kBodyReturnedStatus);
  }
  if (pid > 0 && setup.own_process_group) {
    // Fails harmlessly once the child has exec'd.
    const int saved_errno = errno;
    ::setpgid(pid, pid);
    errno = saved_errno;
  }
  return pid;
}

Child::Child(Child&& other) noexcept
    : pid_(other.pid_), running_(std::exchange(other.running_, false)) {}

Child& Child::operator=(Child&& other) noexcept {
  std::swap(pid_, other.pid_);
  std::swap(running_, other.running_);
  return *this;
}

Child::~Child() {
  if (!running()) return;
  signal(SIGKILL);
  signal(SIGCONT);  // a stopped child dies of SIGKILL too; this only makes sure
  reap_until(Clock::now() + kDropReapTimeout, kDropReapInterval);
}

void Child::signal(int signal) const {
  if (running()) ::kill(pid_, signal);
}

std::optional<int> Child::try_reap() {
  int status = 0;
  if (!running() || ::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  forget_child(pid_);
  running_ = false;
  return status;
}

bool Child::reap_until(Clock::time_point deadline, std::chrono::microseconds interval) {
  while (running() && !try_reap()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

void Child::release() {
  if (running()) forget_child(pid_);
  running_ = false;
}

}  // namespace ringpipe::process
