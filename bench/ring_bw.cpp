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

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <numeric>
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
                ring.succ().peer(), ring.link_info(ring.succ()).transport.c_str());
  return line;
}

std::string preamble(const ringpipe::Ring& ring, const Mode& mode, const BenchOptions& options,
                     const std::string& rank_lines) {
  char head[512];
  std::snprintf(head, sizeof head,
                "# ringpipe ring_bw %s  mode %s  progress %s  ranks %d  warmup %d  iters %d\n",
                RING_BW_VERSION, std::string(mode.name()).c_str(),
                std::string(ringpipe::to_string(ring.options().progress)).c_str(),
                ring.world_size(), options.warmup, options.iterations);
  return head + ("# sizes " + join_sizes(options.sizes) + " B\n") +
         "# time: mean over iterations of the slowest rank, neighbours in step before each; "
         "#wrong: summed over ranks\n" +
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

// Runs warmup + timed iterations of one size; every iteration is verified, warmup included.
SizeResults measure(ringpipe::Ring& ring, Mode& mode, std::size_t bytes,
                    const BenchOptions& options) {
  SizeResults results;
  results.seconds.reserve(static_cast<std::size_t>(options.iterations));
  const auto total = static_cast<std::uint64_t>(options.warmup) + options.iterations;
  for (std::uint64_t iteration = 0; iteration < total; ++iteration) {
    mode.prepare(bytes, iteration);
    wait_for_neighbours(ring);
    const auto start = Clock::now();
    mode.transfer(bytes);
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    if (options.corrupt_every > 0 && (iteration + 1) % options.corrupt_every == 0) {
      mode.damage_received();
    }
    results.wrong_bytes += mode.verify(bytes, iteration);
    if (iteration >= static_cast<std::uint64_t>(options.warmup)) {
      results.seconds.push_back(elapsed.count());
    }
  }
  return results;
}

int run(const BenchOptions& options) {
  ringpipe::Options ring_options = ringpipe::Options::from_env();
  if (!options.device.empty()) {
    ring_options.comm_device = ringpipe::parse_comm_device(options.device, "--device");
  }
  ringpipe::Ring ring(ring_options);
  const std::size_t max_bytes = *std::max_element(options.sizes.begin(), options.sizes.end());
  const std::unique_ptr<Mode> mode = make_ring_mode(ring, max_bytes);
  const bool prints = ring.rank() == 0;

  const std::string rank_lines = gather_lines_to_rank0(ring, rank_line(ring));
  Report report;
  if (prints) report.print_header(preamble(ring, *mode, options, rank_lines));

  for (const std::size_t bytes : options.sizes) {
    const auto combined = reduce_to_rank0(ring, measure(ring, *mode, bytes, options));
    if (!combined) continue;
    const double sum = std::accumulate(combined->seconds.begin(), combined->seconds.end(), 0.0);
    report.print_row(SizeRow{bytes, sum / static_cast<double>(combined->seconds.size()),
                             mode->bus_factor(), combined->wrong_bytes});
  }

  const std::uint64_t wrong_bytes = broadcast_from_rank0(ring, report.wrong_bytes());
  if (prints) report.print_footer();
  return wrong_bytes == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ring_bw

int main(int argc, char** argv) {
  // Line-buffered even into a pipe, so the launcher interleaves whole lines as they happen.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const ring_bw::ParseResult parsed = ring_bw::parse_args(argc, argv);
  switch (parsed.status) {
    case ring_bw::ParseStatus::Help:
      std::fputs(ring_bw::usage().c_str(), stdout);
      return 0;
    case ring_bw::ParseStatus::Error:
      std::fprintf(stderr, "ring_bw: %s\nTry 'ring_bw --help'.\n", parsed.error.c_str());
      return 2;
    case ring_bw::ParseStatus::Run:
      break;
  }
  try {
    return ring_bw::run(parsed.options);
  } catch (const std::exception& error) {
    // ringpipe::Error, or std::bad_alloc for the buffers of the largest size
    std::fprintf(stderr, "ring_bw: %s\n", error.what());
  }
  return 1;
}
