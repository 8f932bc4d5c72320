// ring_bw: combines per-rank results on rank 0 over the ring itself, so the benchmark needs no
// second channel (MPI, files) and exercises nothing but the library under test.
#pragma once

#include <ringpipe/ring.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ring_bw {

// What one rank measured for one message size.
struct SizeResults {
  std::vector<double> seconds;  // one sample per timed iteration
  std::uint64_t wrong_bytes = 0;
  double cpu_percent = 0;  // CPU time over wall time of the timed transfers, % of one core
};

// A message starts at rank 0 and travels 0 -> 1 -> ... -> N-1 -> 0; each rank folds its own
// results in before forwarding: seconds element-wise by max (an iteration lasts as long as its
// slowest rank), wrong bytes by sum, CPU use by max (the busiest rank). Returns the combined
// results on rank 0, nullopt elsewhere. Every rank must pass the same number of samples.
std::optional<SizeResults> reduce_to_rank0(ringpipe::Ring& ring, const SizeResults& local);

// The same journey for text: each rank appends `line` (cut to a bounded length) and rank 0
// receives every rank's line in rank order; other ranks get an empty string.
std::string gather_lines_to_rank0(ringpipe::Ring& ring, const std::string& line);

// Rank 0's value, on every rank.
std::uint64_t broadcast_from_rank0(ringpipe::Ring& ring, std::uint64_t value);

}  // namespace ring_bw
