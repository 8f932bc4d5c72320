// ring_bw: the table rank 0 prints, in nccl-tests' columns, and the JSON file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ring_bw {

// One row of the table: a message size, measured on every rank and combined.
// Times are per message (see Mode::messages_per_iteration).
struct SizeRow {
  std::size_t bytes = 0;
  int iterations = 0;
  double mean_seconds = 0;  // mean over iterations of the slowest rank's time
  double p50_seconds = 0;
  double p99_seconds = 0;
  double bus_factor = 1;
  double cpu_percent = 0;         // the busiest rank's, % of one core
  std::uint64_t wrong_bytes = 0;  // summed over ranks
};

// Collects rows and prints them as they come, so a long sweep shows progress.
class Report {
 public:
  explicit Report(std::string mode) : mode_(std::move(mode)) {}

  // `preamble` is the '#' lines that precede the column headers.
  void print_header(const std::string& preamble);
  void print_row(const SizeRow& row);
  void print_footer();
  // The rows as a JSON array of objects with the keys mode, size_bytes, iters, time_us,
  // algbw_gbps, busbw_gbps, p50_us, p99_us, cpu_pct, wrong. Throws std::runtime_error if the
  // file cannot be written.
  void write_json(const std::string& path) const;

  [[nodiscard]] std::uint64_t wrong_bytes() const { return wrong_bytes_; }

 private:
  std::string mode_;
  std::vector<SizeRow> rows_;
  std::uint64_t wrong_bytes_ = 0;
  double busbw_sum_ = 0;
};

}  // namespace ring_bw
