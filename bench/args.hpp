// ring_bw and copy_bw: their command lines, which share the size sweep and iteration counts.
#pragma once

#include "cli.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ring_bw {

// Beyond this one message's buffers alone would crowd out a typical host.
inline constexpr std::size_t kMaxMessageBytes = std::size_t{4} << 30;
// Each timed iteration's sample travels around the ring, so this also bounds that message (8 MB).
inline constexpr int kMaxIterations = 1'000'000;
inline constexpr int kMaxWindow = 4096;

// What both benchmarks take: the sizes, how often each runs, and where the buffers live.
struct SweepOptions {
  std::vector<std::size_t> sizes;  // message sizes in bytes, in the order they run
  int iterations = 20;
  int warmup = 5;
  // "cpu" or "gpu": where the buffers live; overrides RINGPIPE_COMM_DEVICE ("" = leave it).
  std::string device;
};

struct BenchOptions : SweepOptions {
  // Self-test of the checker: damage one received byte every this many iterations (0 = never),
  // so the run must report wrong data and fail.
  int corrupt_every = 0;
  std::string mode = "ring";  // ring, stream or pingpong
  int window = 32;            // stream: messages in flight per iteration
  std::string progress;       // busy, blocking or adaptive; overrides RINGPIPE_PROGRESS
  std::string json_path;      // rank 0 writes the results there as JSON ("" = no file)
  bool registered = false;    // buffers from Ring::allocate (single copy on one host)
  bool stats = false;         // print each rank's edge counters (Ring::stats) at the end
};

// The sizes as given: a --sizes list, or nccl-tests' -b/-e/-f sweep, until resolve_sizes().
struct SizeArgs {
  std::optional<std::vector<std::size_t>> listed;
  std::optional<std::size_t> min_bytes;
  std::optional<std::size_t> max_bytes;
  std::optional<std::size_t> factor;
};

// Declares --sizes, -b, -e, -f, -n, -w and --device, read into `options` and `sizes`.
void add_sweep_options(ringpipe_cli::Parser& parser, SweepOptions& options, SizeArgs& sizes);

// The sizes to run, in order; throws ringpipe_cli::UsageError if a list and a sweep are both
// given or the sweep's MIN exceeds its MAX.
std::vector<std::size_t> resolve_sizes(const SizeArgs& sizes);

// ring_bw's command line: nullopt to run, or the exit status (--help, --version, usage error).
std::optional<int> parse_args(int argc, char** argv, BenchOptions& options);

// "4096", "64K", "1M", "2G" (powers of 1024); nullopt if malformed or above kMaxMessageBytes.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace ring_bw
