// ringpipe-run: rendezvous socket, job credentials and fork/exec of ranks.
#include "spawn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "output.hpp"

extern char** environ;

namespace ringpipe_run {
namespace {

constexpr int kListenBacklog = 1024;
constexpr int kExecFailedStatus = 127;  // What shells report for a command that cannot run.

// Ports the kernel hands out are spread over the ephemeral range, so a rendezvous port whose
// predecessor is free turns up within a few tries; this many failures means something is wrong.
constexpr int kPortPairTries = 64;

// torch.distributed's variables (env://), set for every rank to describe this job, so that a
// script that also calls init_process_group joins the same ranks.
constexpr std::string_view kTorchVars[] = {
    "MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
};

// Variables of other launchers (Open MPI, Slurm) that a rank's framework might read in
// preference to ours and so join the wrong job.
constexpr std::string_view kConflictingVars[] = {
    "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
    "SLURM_PROCID",         "SLURM_NTASKS",         "SLURM_LOCALID",
};

// Ours, always replaced; RINGPIPE_LISTEN_FD is also dropped for ranks other than 0 in case the
// launcher itself runs under another ringpipe-run.
constexpr std::string_view kOwnVars[] = {
    "RINGPIPE_HEAD",   "RINGPIPE_PORT",       "RINGPIPE_WORLD_SIZE",
    "RINGPIPE_RANK",   "RINGPIPE_LOCAL_RANK", "RINGPIPE_COMM_DEVICE",
    "RINGPIPE_JOB_ID", "RINGPIPE_TOKEN",      "RINGPIPE_LISTEN_FD",
};

void print_errno(std::string_view what) {
  print_error(std::string(what) + ": " + std::strerror(errno));
}

bool fill_random(void* buffer, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(buffer);
  while (size > 0) {
    const ssize_t n = ::getrandom(bytes, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool is_replaced(std::string_view entry) {
  const std::string_view name = entry.substr(0, entry.find('='));
  for (const std::string_view var : kTorchVars) {
    if (name == var) return true;
  }
  for (const std::string_view var : kConflictingVars) {
    if (name == var) return true;
  }
  for (const std::string_view var : kOwnVars) {
    if (name == var) return true;
  }
  return false;
}

std::vector<std::string> rank_environment(const Job& job, int rank) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!is_replaced(*entry)) env.emplace_back(*entry);
  }
  env.push_back("RINGPIPE_HEAD=127.0.0.1");
  env.push_back("RINGPIPE_PORT=" + std::to_string(job.port));
  env.push_back("RINGPIPE_WORLD_SIZE=" + std::to_string(job.world_size));
  env.push_back("RINGPIPE_RANK=" + std::to_string(rank));
  // One host only, so the local rank is the global rank.
  env.push_back("RINGPIPE_LOCAL_RANK=" + std::to_string(rank));
  env.push_back("RINGPIPE_COMM_DEVICE=" + job.comm_device);
  env.push_back("RINGPIPE_JOB_ID=" + std::to_string(job.job_id));
  env.push_back("RINGPIPE_TOKEN=" + job.token);
  if (rank == 0) env.push_back("RINGPIPE_LISTEN_FD=" + std::to_string(job.listen_fd));
  // What torchrun would set. MASTER_PORT + 1 is the rendezvous port, as ringpipe derives it
  // under torchrun; MASTER_PORT itself is reserved for torch.distributed's store.
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(job.torch_port));
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(job.world_size));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(job.world_size));
  return env;
}

// A socket on `address`:`port` (0 = a port the kernel picks), listening or only bound; -1 with
// errno set if that failed.
int bind_tcp(in_addr_t address, std::uint16_t port, bool listening) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address);
  sa.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      (listening && ::listen(fd, kListenBacklog) != 0)) {
    const int saved_errno = errno;
    ::close(fd);
    errno = saved_errno;
    return -1;
  }
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_in sa{};
  socklen_t length = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length) != 0) return 0;
  return ntohs(sa.sin_port);
}

std::vector<char*> as_argv(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs in the forked child: only calls that are safe between fork and exec.
[[noreturn]] void exec_rank(const Job& job, int rank, char** argv, char** envp, int stdout_fd,
                            int stderr_fd) {
  ::setpgid(0, 0);
  // A rank must not outlive a launcher that was killed (it can no longer forward signals or
  // stop the ring); the check closes the race with a launcher that died before prctl.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != job.launcher_pid) ::_exit(kExecFailedStatus);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE}) ::signal(sig, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &job.original_mask, nullptr);
  ::setrlimit(RLIMIT_NOFILE, &job.original_nofile);

  // Ranks live in background process groups, where reading the terminal would stop them with
  // SIGTTIN; only rank 0 gets a stdin that is not a terminal (a pipe or file).
  if (rank != 0 || ::isatty(STDIN_FILENO)) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != STDIN_FILENO) {
      ::dup2(null_fd, STDIN_FILENO);
      ::close(null_fd);
    }
  }
  // The pipe ends are close-on-exec; their dup2 copies are not.
  ::dup2(stdout_fd, STDOUT_FILENO);
  ::dup2(stderr_fd, STDERR_FILENO);
  if (rank == 0) ::fcntl(job.listen_fd, F_SETFD, 0);

  environ = envp;
  ::execvp(argv[0], argv);

  char message[512];
  const int length = std::snprintf(message, sizeof(message), "ringpipe-run: cannot run %s: %s\n",
                                   argv[0], std::strerror(errno));
  if (length > 0) {
    write_all(STDERR_FILENO,
              std::string_view(message, std::min<std::size_t>(length, sizeof(message) - 1)));
  }
  ::_exit(kExecFailedStatus);
}

}  // namespace

bool open_listen_socket(Job& job) {
  std::vector<int> unsuitable;  // held until the end, so that the kernel picks other ports
  for (int attempt = 0; attempt < kPortPairTries && job.listen_fd < 0; ++attempt) {
    const int listen_fd = bind_tcp(INADDR_LOOPBACK, 0, /*listening=*/true);
    if (listen_fd < 0) {
      print_errno("cannot listen on 127.0.0.1");
      break;
    }
    const std::uint16_t port = local_port(listen_fd);
    // On every address, as torch's store binds it. Bound with SO_REUSEADDR but not listening:
    // other processes cannot take the port (unless they bind it with SO_REUSEADDR themselves),
    // outgoing connections never get it, and rank 0's torch store still binds and listens
    // there (torch 1.13's TCPStore sets SO_REUSEADDR), so it is held for the job's life.
    const int torch_fd = port > 1 ? bind_tcp(INADDR_ANY, port - 1, /*listening=*/false) : -1;
    if (torch_fd < 0) {
      unsuitable.push_back(listen_fd);
      continue;
    }
    job.listen_fd = listen_fd;
    job.port = port;
    job.torch_port_fd = torch_fd;
    job.torch_port = static_cast<std::uint16_t>(port - 1);
  }
  for (const int fd : unsuitable) ::close(fd);
  if (job.listen_fd < 0 && unsuitable.size() == static_cast<std::size_t>(kPortPairTries)) {
    print_error("no rendezvous port P with P - 1 free for torch.distributed's MASTER_PORT in " +
                std::to_string(kPortPairTries) + " tries");
  }
  return job.listen_fd >= 0;
}

bool make_credentials(Job& job) {
  std::array<unsigned char, 32> secret{};
  if (!fill_random(&job.job_id, sizeof(job.job_id)) || !fill_random(secret.data(), secret.size())) {
    print_errno("getrandom");
    return false;
  }
  // A token the user chose (for ranks started elsewhere too) wins over a made-up one.
  if (const char* user_token = std::getenv("RINGPIPE_TOKEN");
      user_token != nullptr && *user_token != '\0') {
    job.token = user_token;
    return true;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  job.token.clear();
  for (const unsigned char byte : secret) {
    job.token += kHex[byte >> 4];
    job.token += kHex[byte & 0xf];
  }
  return true;
}

std::optional<RankProcess> spawn_rank(const Job& job, const std::vector<std::string>& program,
                                      int rank) {
  // Built before fork: allocating in the child is not safe.
  std::vector<std::string> args = program;
  std::vector<char*> argv = as_argv(args);
  std::vector<std::string> env = rank_environment(job, rank);
  std::vector<char*> envp = as_argv(env);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    print_errno("pipe");
    return std::nullopt;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    print_errno("pipe");
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return std::nullopt;
  }

  const pid_t pid = ::fork();
  if (pid == 0) exec_rank(job, rank, argv.data(), envp.data(), out_pipe[1], err_pipe[1]);
  const int saved_errno = errno;
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    errno = saved_errno;
    print_errno("fork");
    return std::nullopt;
  }
  // Also set here so that a kill(-pid) sent before the child runs cannot miss its group; fails
  // harmlessly once the child has exec'd.
  ::setpgid(pid, pid);
  return RankProcess{pid, out_pipe[0], err_pipe[0]};
}

}  // namespace ringpipe_run
