// copy_bw: the single-copy ceiling a transport is measured against. Copies each size within one
// process and prints a table of the shape of ring_bw's: memcpy between host buffers (--device
// cpu, the default), or cudaMemcpyAsync device to device (--device gpu, CUDA builds).
#include "args.hpp"
#include "device_copy.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
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

}  // namespace

int main(int argc, char** argv) {
  const ring_bw::ParseResult parsed = ring_bw::parse_args(argc, argv);
  if (parsed.status != ring_bw::ParseStatus::Run) {
    std::fprintf(stderr, "%s\n%s", parsed.error.c_str(), ring_bw::usage().c_str());
    return parsed.status == ring_bw::ParseStatus::Help ? 0 : 2;
  }
  const ring_bw::BenchOptions& options = parsed.options;
  if (options.corrupt_every != 0 || options.mode != "ring" || !options.json_path.empty()) {
    std::fprintf(stderr, "copy_bw: takes --sizes/-b/-e/-f, -n, -w and --device only\n");
    return 2;
  }
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
