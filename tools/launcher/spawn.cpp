// ringpipe-run: rendezvous socket, job credentials and fork/exec of ranks.
#include "spawn.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
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
#include "process/child.hpp"
#include "process/fd.hpp"

extern char** environ;

namespace ringpipe_run {
namespace {

namespace process = ringpipe::process;

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

// Runs in the forked child once its setup is done.
[[noreturn]] void exec_rank(const process::Command& command) {
  command.exec();
  char message[512];
  const int length = std::snprintf(message, sizeof(message), "ringpipe-run: cannot run %s: %s\n",
                                   command.program(), std::strerror(errno));
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
  const process::Command command(program, rank_environment(job, rank));
  process::Pipe out;
  process::Pipe err;
  if (!process::open_pipe(out) || !process::open_pipe(err)) {
    print_errno("pipe");
    return std::nullopt;
  }

  process::ChildSetup setup;
  setup.own_process_group = true;
  // A rank must not outlive a launcher that was killed: it can no longer forward signals or
  // stop the ring.
  setup.die_with_parent = kExecFailedStatus;
  setup.default_signals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE};
  setup.signal_mask = &job.original_mask;
  setup.open_file_limit = &job.original_nofile;
  // Ranks live in background process groups, where reading the terminal would stop them with
  // SIGTTIN; only rank 0 gets a stdin that is not a terminal (a pipe or file).
  setup.stdin_from_dev_null = rank != 0 || ::isatty(STDIN_FILENO);
  setup.stdout_fd = out.write.get();
  setup.stderr_fd = err.write.get();
  if (rank == 0) setup.inherited_fds.push_back(job.listen_fd);

  const pid_t pid = process::spawn(setup, [&command] { exec_rank(command); });
  const int saved_errno = errno;
  out.write.reset();
  err.write.reset();
  if (pid < 0) {
    errno = saved_errno;
    print_errno("fork");
    return std::nullopt;
  }
  return RankProcess{pid, out.read.release(), err.read.release()};
}

}  // namespace ringpipe_run
