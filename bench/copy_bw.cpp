// copy_bw: the single-copy ceiling a transport is measured against. Copies each size within one
// process and prints size, time and bandwidth: memcpy between host buffers (--device cpu, the
// default), or cudaMemcpyAsync device to device (--device gpu, CUDA builds). --pair: the
// traffic of a 2-rank ring that copies each message once, on two threads, without a transport.
#include "args.hpp"
#include "device_copy.hpp"

#include <algorithm>
#include <array>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace {

// Host-observed seconds per copy of `bytes`: back to back after `warmup` untimed ones.
double time_memcpy(std::size_t bytes, int warmup, int iterations) {
  std::vector<char> from(bytes + 1, 1), to(bytes + 1, 0);
  for (int i = 0; i < warmup; ++i) std::memcpy(to.data(), from.data(), bytes);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    from[0] = static_cast<char>(i);  // a fresh source each time: the copy cannot be elided
    std::memcpy(to.data(), from.data(), bytes);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (to[0] != static_cast<char>(iterations - 1) && bytes > 0)
    std::fputs("copy_bw: bad copy\n", stderr);
  return seconds / iterations;
}

// Two threads in step, as the two ranks of ring_bw --mode ring --registered: each writes its
// source and reads its destination (ring_bw's fill and check), then both copy at once, each
// from the other's source into its own destination. Seconds per step: the median over the
// iterations of the slower thread's copy.
double time_memcpy_pair(std::size_t bytes, int warmup, int iterations) {
  std::array<std::vector<char>, 2> from{std::vector<char>(bytes + 1, 1),
                                        std::vector<char>(bytes + 1, 2)};
  std::array<std::vector<char>, 2> to{std::vector<char>(bytes + 1, 0),
                                      std::vector<char>(bytes + 1, 0)};
  std::array<std::vector<double>, 2> seconds;
  std::barrier step(2);
  const auto run = [&](int self) {
    volatile char sink = 0;
    for (int i = 0; i < warmup + iterations; ++i) {
      std::memset(from[self].data(), i + self, bytes);
      char seen = 0;
      for (std::size_t b = 0; b < bytes; b += 64) seen = static_cast<char>(seen ^ to[self][b]);
      sink = seen;
      step.arrive_and_wait();
      const auto start = std::chrono::steady_clock::now();
      std::memcpy(to[self].data(), from[1 - self].data(), bytes);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      step.arrive_and_wait();
      if (i >= warmup) seconds[self].push_back(took.count());
    }
    static_cast<void>(sink);
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  if (iterations <= 0) return 0;
  std::vector<double> slower(seconds[0].size());
  for (std::size_t i = 0; i < slower.size(); ++i) {
    slower[i] = std::max(seconds[0][i], seconds[1][i]);
  }
  std::nth_element(slower.begin(), slower.begin() + slower.size() / 2, slower.end());
  return slower[slower.size() / 2];
}

// nullopt to run, or the exit status (--help, --version, usage error).
std::optional<int> parse_args(int argc, char** argv, ring_bw::SweepOptions& options, bool& pair) {
  ringpipe_cli::Parser parser(
      "copy_bw",
      "[--sizes LIST | -b MIN -e MAX -f FACTOR] [-n ITERS] [-w WARMUP] [--device DEV] [--pair]",
      "Copies each size within this process, the ceiling a transport between processes is\n"
      "measured against: memcpy between host buffers on one thread (--device cpu), or\n"
      "cudaMemcpyAsync device to device (--device gpu), timed by the host and by GPU events.\n",
      "Sizes may not exceed 4G. Exit status: 0, 1 on an error, 2 on a usage error.\n");
  ring_bw::SizeArgs sizes;
  ring_bw::add_sweep_options(parser, options, sizes);
  parser.add_flag("--pair",
                  "host only: two threads in step, each writing its source and reading its\n"
                  "destination, then copying the other's source into it: a 2-rank ring's\n"
                  "traffic with one copy per message, without a transport (time: the median\n"
                  "step of the slower thread)",
                  pair);
  if (const std::optional<int> status = parser.parse(argc, argv)) return status;
  try {
    options.sizes = ring_bw::resolve_sizes(sizes);
  } catch (const ringpipe_cli::UsageError& error) {
    return parser.fail(error.what());
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  ring_bw::SweepOptions options;
  bool pair = false;
  if (const std::optional<int> status = parse_args(argc, argv, options, pair)) return *status;
  const bool gpu = options.device == "gpu";
  if (gpu && pair) {
    std::fprintf(stderr, "copy_bw: --pair copies host memory: it does not go with --device gpu\n");
    return 2;
  }
  try {
    std::printf("# copy_bw: %s, warmup %d, iters %d\n",
                gpu    ? ("cudaMemcpyAsync device to device on " + ring_bw::device_name()).c_str()
                : pair ? "memcpy host to host, two threads in step, each from the other's buffer"
                       : "memcpy host to host, one thread",
                options.warmup, options.iterations);
    // time: host-observed per copy; gpu: the copy engine alone (events, back to back).
    std::printf("# %12s %12s %12s%s\n", "size(B)", "time(us)", "algbw(GB/s)",
                gpu ? "      gpu(us)" : "");
    for (std::size_t size : options.sizes) {
      ring_bw::DeviceCopyTimes times;
      if (gpu) {
        times = ring_bw::time_device_copy(size, options.warmup, options.iterations);
      } else {
        times.host_seconds = pair ? time_memcpy_pair(size, options.warmup, options.iterations)
                                  : time_memcpy(size, options.warmup, options.iterations);
      }
      const double seconds = times.host_seconds;
      std::printf("  %12zu %12.2f %12.2f", size, seconds * 1e6,
                  seconds > 0 ? static_cast<double>(size) / seconds / 1e9 : 0.0);
      if (gpu) std::printf(" %12.2f", times.gpu_seconds * 1e6);
      std::printf("\n");
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "copy_bw: %s\n", error.what());
    return 1;
  }
  return 0;
}
