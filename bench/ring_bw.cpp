// ring_bw: ring bandwidth benchmark over ringpipe; prints an nccl-tests style table on rank 0.
//
// Timing: each rank times every iteration of a size on its own; the samples travel around the
// ring, which keeps the slowest rank's time per iteration, and the table shows the mean of those
// maxima. Wrong bytes are summed around the ring the same way, and rank 0 sends the final count
// back round so that every rank exits 1 when any rank saw wrong data.
#include "args.hpp"
#include "mode.hpp"
#include "report.hpp"
#include "ring_collect.hpp"
#include "tags.hpp"

#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>
#include <ringpipe/stats.hpp>
#include <ringpipe/version.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace ring_bw {
namespace {

using Clock = std::chrono::steady_clock;

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

std::string join_sizes(const std::vector<std::size_t>& sizes) {
  std::string text;
  for (const std::size_t size : sizes) text += (text.empty() ? "" : ",") + std::to_string(size);
  return text;
}

// The preamble line each rank contributes: who it is and what carries its outgoing link.
std::string rank_line(ringpipe::Ring& ring) {
  char line[512];
  std::snprintf(line, sizeof line, "# rank %2d pid %d host %s pred %d succ %d link %s", ring.rank(),
                static_cast<int>(::getpid()), host_name().c_str(), ring.pred().peer(),
                ring.succ().peer(), ring.link_info(ring.succ()).describe().c_str());
  return line;
}

std::string preamble(const ringpipe::Ring& ring, const Mode& mode, const BenchOptions& options,
                     const std::string& rank_lines) {
  char head[512];
  std::snprintf(
      head, sizeof head,
      "# ringpipe ring_bw %s  mode %s  progress %s  ranks %d  warmup %d  iters %d%s\n",
      RINGPIPE_VERSION_STRING, std::string(mode.name()).c_str(),
      std::string(ringpipe::to_string(ring.options().progress)).c_str(), ring.world_size(),
      options.warmup, options.iterations,
      mode.name() == "stream" ? ("  window " + std::to_string(options.window)).c_str() : "");
  return head + ("# sizes " + join_sizes(options.sizes) + " B\n") +
         "# time: per message, mean over iterations of the slowest rank, neighbours in step "
         "before each (stream: window / W, pingpong: round trip / 2); #wrong: summed over "
         "ranks; cpu: the busiest rank\n" +
         rank_lines;
}

// Both neighbours have finished checking the previous iteration: without this, a rank's timer
// would also run while its neighbour was still verifying data, which is not transfer time.
void wait_for_neighbours(ringpipe::Ring& ring) {
  std::uint8_t mine = 1, from_pred = 0, from_succ = 0;
  ringpipe::Request a = ring.host_pred().irecv(&from_pred, 1, kReadyTag);
  ringpipe::Request b = ring.host_succ().irecv(&from_succ, 1, kReadyTag);
  ringpipe::Request c = ring.host_succ().isend(&mine, 1, kReadyTag);
  ringpipe::Request d = ring.host_pred().isend(&mine, 1, kReadyTag);
  for (ringpipe::Request* request : {&a, &b, &c, &d}) request->wait();
}

// What the ring's own counters say moved, per edge (in Ring::stats() order) and direction.
struct EdgeTraffic {
  std::string edge;
  std::array<std::uint64_t, 2> messages{};  // send, recv
  std::array<std::uint64_t, 2> bytes{};
};
using Traffic = std::vector<EdgeTraffic>;

Traffic traffic_of(const ringpipe::RingStats& stats) {
  Traffic traffic;
  for (const ringpipe::EdgeStats& edge : stats.edges) {
    traffic.push_back(
        {edge.edge, {edge.send.messages, edge.recv.messages}, {edge.send.bytes, edge.recv.bytes}});
  }
  return traffic;
}

// Adds what moved between `before` and `after` to `total`.
void add_difference(Traffic& total, const Traffic& before, const Traffic& after) {
  if (total.empty()) total = Traffic(after.size());
  for (std::size_t edge = 0; edge < after.size(); ++edge) {
    total[edge].edge = after[edge].edge;
    for (std::size_t direction = 0; direction < 2; ++direction) {
      total[edge].messages[direction] +=
          after[edge].messages[direction] - before[edge].messages[direction];
      total[edge].bytes[direction] += after[edge].bytes[direction] - before[edge].bytes[direction];
    }
  }
}

// --stats: "# stats rank 1 pred send 0/0 recv 14/2080 succ send 14/2080 recv 0/0 failed 0
// in-flight 0": messages/bytes the ring counted during the transfers (warmup included), then
// the failures and requests in flight of the whole run.
std::string stats_line(const ringpipe::Ring& ring, const Traffic& transfers) {
  std::string line = "# stats rank " + std::to_string(ring.rank());
  for (const EdgeTraffic& edge : transfers) {
    line += " " + edge.edge;
    for (std::size_t direction = 0; direction < 2; ++direction) {
      line += std::string(direction == 0 ? " send " : " recv ") +
              std::to_string(edge.messages[direction]) + "/" +
              std::to_string(edge.bytes[direction]);
    }
  }
  std::uint64_t failed = 0, in_flight = 0;
  for (const ringpipe::EdgeStats& edge : ring.stats().edges) {
    failed += edge.send.failed() + edge.recv.failed();
    in_flight += edge.send.in_flight + edge.recv.in_flight;
  }
  return line + " failed " + std::to_string(failed) + " in-flight " + std::to_string(in_flight);
}

// User plus system CPU time of this process so far.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs warmup + timed iterations of one size; every iteration is verified, warmup included.
// With --stats, adds the ring's counts of each transfer to `transfers` (read outside the
// timed span).
SizeResults measure(ringpipe::Ring& ring, Mode& mode, std::size_t bytes,
                    const BenchOptions& options, Traffic& transfers) {
  SizeResults results;
  results.seconds.reserve(static_cast<std::size_t>(options.iterations));
  const auto total = static_cast<std::uint64_t>(options.warmup) + options.iterations;
  double cpu = 0;
  double wall = 0;
  const bool per_iteration_clock = !mode.self_paced();
  Clock::time_point timed_start;  // self-paced: the CPU share is taken over all timed iterations
  double timed_start_cpu = 0;
  for (std::uint64_t iteration = 0; iteration < total; ++iteration) {
    const bool timed = iteration >= static_cast<std::uint64_t>(options.warmup);
    if (!per_iteration_clock && iteration == static_cast<std::uint64_t>(options.warmup)) {
      timed_start = Clock::now();
      timed_start_cpu = cpu_seconds();
    }
    mode.prepare(bytes, iteration);
    if (per_iteration_clock) wait_for_neighbours(ring);
    const Traffic before = options.stats ? traffic_of(ring.stats()) : Traffic();
    // The CPU clock is read outside the timed span, so reading it costs no transfer time; the
    // CPU share is taken over the span between the two readings.
    const auto outer_start = per_iteration_clock ? Clock::now() : Clock::time_point();
    const double cpu_start = per_iteration_clock ? cpu_seconds() : 0;
    const auto start = Clock::now();
    mode.transfer(bytes);
    const auto end = Clock::now();
    const std::chrono::duration<double> elapsed = end - start;
    if (timed && per_iteration_clock) {
      cpu += cpu_seconds() - cpu_start;
      wall += std::chrono::duration<double>(Clock::now() - outer_start).count();
    }
    if (options.stats) add_difference(transfers, before, traffic_of(ring.stats()));
    if (options.corrupt_every > 0 && (iteration + 1) % options.corrupt_every == 0) {
      mode.damage_received();
    }
    results.wrong_bytes += mode.verify(bytes, iteration);
    if (timed) results.seconds.push_back(mode.timed_on_this_rank() ? elapsed.count() : 0.0);
  }
  if (!per_iteration_clock && options.iterations > 0) {
    cpu = cpu_seconds() - timed_start_cpu;
    wall = std::chrono::duration<double>(Clock::now() - timed_start).count();
  }
  // getrusage counts in clock ticks of the scheduler: over short runs this is coarse.
  results.cpu_percent = wall > 0 ? 100.0 * cpu / wall : 0;
  return results;
}

// The value below which `fraction` of the samples lie (nearest rank).
double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) return 0;
  const auto rank =
      static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(rank),
                   samples.end());
  return samples[rank];
}

std::unique_ptr<Mode> make_mode(ringpipe::Ring& ring, const BenchOptions& options) {
  const std::size_t max_bytes = *std::max_element(options.sizes.begin(), options.sizes.end());
  Memory memory = options.registered ? Memory::Registered : Memory::Host;
  if (ring.comm_device() == ringpipe::CommDevice::Gpu) {
    if (options.registered) {
      throw ringpipe::Error(ringpipe::Errc::InvalidArgument,
                            "--registered allocates host memory: it does not go with --device gpu");
    }
    memory = Memory::Device;
  }
  if (options.mode == "stream") return make_stream_mode(ring, max_bytes, memory, options.window);
  if (options.mode == "pingpong") return make_pingpong_mode(ring, max_bytes, memory);
  return make_ring_mode(ring, max_bytes, memory);
}

int run(const BenchOptions& options) {
  ringpipe::Options ring_options = ringpipe::Options::from_env();
  if (!options.device.empty()) {
    ring_options.comm_device = ringpipe::parse_comm_device(options.device, "--device");
  }
  if (!options.progress.empty()) {
    ring_options.progress = ringpipe::parse_progress_mode(options.progress, "--progress");
  }
  ringpipe::Ring ring(ring_options);
  const std::unique_ptr<Mode> mode = make_mode(ring, options);
  const bool prints = ring.rank() == 0;

  const std::string rank_lines = gather_lines_to_rank0(ring, rank_line(ring));
  Report report(options.mode);
  if (prints) report.print_header(preamble(ring, *mode, options, rank_lines));

  Traffic transfers;
  for (const std::size_t bytes : options.sizes) {
    auto combined = reduce_to_rank0(ring, measure(ring, *mode, bytes, options, transfers));
    if (!combined) continue;
    // Per message: a stream iteration is a window of messages, a ping-pong one a round trip.
    for (double& seconds : combined->seconds) seconds /= mode->messages_per_iteration();
    const double sum = std::accumulate(combined->seconds.begin(), combined->seconds.end(), 0.0);
    SizeRow row;
    row.bytes = bytes;
    row.iterations = options.iterations;
    row.mean_seconds = sum / static_cast<double>(combined->seconds.size());
    row.p50_seconds = percentile(combined->seconds, 0.50);
    row.p99_seconds = percentile(combined->seconds, 0.99);
    row.bus_factor = mode->bus_factor();
    row.cpu_percent = combined->cpu_percent;
    row.wrong_bytes = combined->wrong_bytes;
    report.print_row(row);
  }

  const std::uint64_t wrong_bytes = broadcast_from_rank0(ring, report.wrong_bytes());
  const std::string stats_lines =
      options.stats ? gather_lines_to_rank0(ring, stats_line(ring, transfers)) : std::string();
  if (prints) {
    std::fputs(stats_lines.c_str(), stdout);
    report.print_footer();
    if (!options.json_path.empty()) report.write_json(options.json_path);
  }
  return wrong_bytes == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ring_bw

int main(int argc, char** argv) {
  // Line-buffered even into a pipe, so the launcher interleaves whole lines as they happen.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ring_bw::BenchOptions options;
  if (const std::optional<int> status = ring_bw::parse_args(argc, argv, options)) return *status;
  try {
    return ring_bw::run(options);
  } catch (const std::exception& error) {
    // ringpipe::Error, or std::bad_alloc for the buffers of the largest size
    std::fprintf(stderr, "ring_bw: %s\n", error.what());
  }
  return 1;
}
