// ringpipe: FlexLLMGen's dist_utils API over one process-wide Ring.
#include <ringpipe/compat.hpp>

#include <ringpipe/error.hpp>

#include "options_env.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>

namespace ringpipe {
namespace {

struct ProcessRing {
  std::mutex mutex;
  std::unique_ptr<Ring> ring;
  bool joining = false;  // initialize_distributed is running
  int print_rank = 0;
  bool suppressed = false;
  bool force_default = false;
  int original_stdout = -1;  // where forced prints go while stdout is discarded
};

ProcessRing& process_ring() {
  static ProcessRing* state = [] {
    auto* created = new ProcessRing;  // never destroyed: usable from atexit handlers
    std::atexit([] {
      std::lock_guard lock(process_ring().mutex);
      process_ring().ring.reset();
    });
    return created;
  }();
  return *state;
}

std::string errno_text() { return std::system_category().message(errno); }

// C++ has no print() to replace, so "suppressed" means this process's stdout goes to
// /dev/null; print(true, ...) writes to the saved original.
void suppress_locked(ProcessRing& state, int rank, bool force_default) {
  state.print_rank = rank;
  state.force_default = force_default;
  if (rank == 0 || force_default || state.suppressed) return;
  std::fflush(stdout);
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    throw Error(Errc::Internal, "suppress_output: cannot open /dev/null: " + errno_text());
  const int original = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (original < 0 || ::dup2(null_fd, STDOUT_FILENO) < 0) {
    const std::string reason = errno_text();
    ::close(null_fd);
    if (original >= 0) ::close(original);
    throw Error(Errc::Internal, "suppress_output: cannot redirect standard output: " + reason);
  }
  ::close(null_fd);
  state.original_stdout = original;
  state.suppressed = true;
}

void restore_stdout_locked(ProcessRing& state) {
  if (!state.suppressed) return;
  std::fflush(stdout);
  ::dup2(state.original_stdout, STDOUT_FILENO);
  ::close(state.original_stdout);
  state.original_stdout = -1;
  state.suppressed = false;
}

Ring& initialized_ring(const char* caller) {
  ProcessRing& state = process_ring();
  std::lock_guard lock(state.mutex);
  if (!state.ring) {
    throw Error(Errc::InvalidArgument,
                std::string(caller) + " called before initialize_distributed()");
  }
  return *state.ring;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;  // output is best effort, like print()
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void initialize_distributed(const std::string& head_ip, int port, int world_size, int rank,
                            int local_rank, const std::string& comm_device) {
  // The arguments place this rank in the ring; the environment only tunes it, so stale launcher
  // variables (RANK, WORLD_SIZE, ...) cannot contradict the call.
  Options options;
  detail::read_tuning_from_env(options);
  options.head = head_ip;
  if (port < 0 || port > 65535) {
    throw Error(Errc::InvalidArgument,
                "initialize_distributed: port " + std::to_string(port) + " is not in 0..65535");
  }
  options.port = static_cast<std::uint16_t>(port);
  options.world_size = world_size;
  options.rank = rank;
  options.local_rank = local_rank;
  options.comm_device = parse_comm_device(comm_device, "initialize_distributed comm_device");
  options.validate();

  ProcessRing& state = process_ring();
  {
    std::lock_guard lock(state.mutex);
    if (state.ring || state.joining) {
      throw Error(Errc::InvalidArgument,
                  "initialize_distributed called twice (this process is already " +
                      (state.ring ? "rank " + std::to_string(state.ring->rank()) + " of " +
                                        std::to_string(state.ring->world_size())
                                  : std::string("joining a ring")) +
                      ")");
    }
    state.joining = true;
  }
  // The rendezvous can take long: other threads may print meanwhile, so no lock is held.
  std::unique_ptr<Ring> ring;
  try {
    ring = std::make_unique<Ring>(options);
  } catch (...) {
    std::lock_guard lock(state.mutex);
    state.joining = false;
    throw;
  }
  std::lock_guard lock(state.mutex);
  state.joining = false;
  suppress_locked(state, rank, /*force_default=*/false);  // as the seed does
  state.ring = std::move(ring);  // last: a failure above leaves the process uninitialised
}

PipeGroup& get_pipeline_parallel_pred_group() {
  return initialized_ring("get_pipeline_parallel_pred_group").pred();
}

PipeGroup& get_pipeline_parallel_succ_group() {
  return initialized_ring("get_pipeline_parallel_succ_group").succ();
}

std::string get_comm_device() {
  return std::string(to_string(initialized_ring("get_comm_device").comm_device()));
}

Ring& get_ring() { return initialized_ring("get_ring"); }

void finalize_distributed() {
  ProcessRing& state = process_ring();
  std::unique_ptr<Ring> ring;
  {
    std::lock_guard lock(state.mutex);
    ring = std::move(state.ring);
    restore_stdout_locked(state);
    state.force_default = false;
  }
}

void suppress_output(int rank, bool force_default) {
  ProcessRing& state = process_ring();
  std::lock_guard lock(state.mutex);
  suppress_locked(state, rank, force_default);
}

namespace detail {

void print_line(bool force, std::string_view line) {
  ProcessRing& state = process_ring();
  std::lock_guard lock(state.mutex);
  force = force || state.force_default;
  std::string text;
  if (force) text = "rank #" + std::to_string(state.print_rank) + ": ";
  text.append(line);
  text.push_back('\n');
  std::fflush(stdout);
  if (force && state.suppressed) {
    write_all(state.original_stdout, text);
  } else if (!state.suppressed) {
    write_all(STDOUT_FILENO, text);
  }
}

}  // namespace detail
}  // namespace ringpipe
