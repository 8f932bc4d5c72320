// copy_bw: the single-copy ceiling a transport is measured against. Copies each size within one
// process and prints size, time and bandwidth: memcpy between host buffers (--device cpu, the
// default), or cudaMemcpyAsync device to device (--device gpu, CUDA builds).
#include "args.hpp"
#include "device_copy.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
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

// nullopt to run, or the exit status (--help, --version, usage error).
std::optional<int> parse_args(int argc, char** argv, ring_bw::SweepOptions& options) {
  ringpipe_cli::Parser parser(
      "copy_bw", "[--sizes LIST | -b MIN -e MAX -f FACTOR] [-n ITERS] [-w WARMUP] [--device DEV]",
      "Copies each size within this process, the ceiling a transport between processes is\n"
      "measured against: memcpy between host buffers on one thread (--device cpu), or\n"
      "cudaMemcpyAsync device to device (--device gpu), timed by the host and by GPU events.\n",
      "Sizes may not exceed 4G. Exit status: 0, 1 on an error, 2 on a usage error.\n");
  ring_bw::SizeArgs sizes;
  ring_bw::add_sweep_options(parser, options, sizes);
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
  if (const std::optional<int> status = parse_args(argc, argv, options)) return *status;
  const bool gpu = options.device == "gpu";
  try {
    std::printf("# copy_bw: %s, warmup %d, iters %d\n",
                gpu ? ("cudaMemcpyAsync device to device on " + ring_bw::device_name()).c_str()
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
        times.host_seconds = time_memcpy(size, options.warmup, options.iterations);
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
