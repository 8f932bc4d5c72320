// ringpipe-run: the job's rendezvous identity and starting one rank.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringpipe_run {

// Everything a rank needs to find and authenticate the others.
struct Job {
  int world_size = 0;
  std::string comm_device;
  int listen_fd = -1;  // Handed to rank 0 only.
  std::uint16_t port = 0;
  // port - 1, the ranks' MASTER_PORT: kept free for torch.distributed's store by a socket bound
  // there (never listening) for the job's life.
  int torch_port_fd = -1;
  std::uint16_t torch_port = 0;
  std::uint64_t job_id = 0;
  std::string token;  // 64 hex digits, or the user's RINGPIPE_TOKEN.
  // Launcher state that a rank must not inherit.
  sigset_t original_mask{};
  rlimit original_nofile{};
};

struct RankProcess {
  pid_t pid = -1;  // Also the id of the rank's own process group.
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Binds 127.0.0.1 on a port the kernel picks, so no port is ever guessed, one whose
// predecessor is free too and is then held for torch.distributed; fills in listen_fd, port,
// torch_port_fd and torch_port. Returns false after printing why.
bool open_listen_socket(Job& job);

// Fills in job_id, and token unless RINGPIPE_TOKEN is set (and not empty), from the kernel's
// random source. Returns false after printing why.
bool make_credentials(Job& job);

// Forks and execs one rank. The caller must have SIGINT/SIGTERM/SIGHUP/SIGCHLD blocked so that
// the child cannot run the launcher's handlers before it resets them.
std::optional<RankProcess> spawn_rank(const Job& job, const std::vector<std::string>& program,
                                      int rank);

}  // namespace ringpipe_run
