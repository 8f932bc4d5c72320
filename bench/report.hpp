// ring_bw: the nccl-tests style table printed by rank 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ring_bw {

// One row of the table: a message size, measured on every rank and combined.
struct SizeRow {
  std::size_t bytes = 0;
  double mean_seconds = 0;  // mean over iterations of the slowest rank's time
  double bus_factor = 1;
  std::uint64_t wrong_bytes = 0;  // summed over ranks
};

// Collects rows and prints them as they come, so a long sweep shows progress.
class Report {
 public:
  // `preamble` is the '#' lines that precede the column headers.
  void print_header(const std::string& preamble);
  void print_row(const SizeRow& row);
  void print_footer();

  [[nodiscard]] std::uint64_t wrong_bytes() const { return wrong_bytes_; }

 private:
  std::uint64_t wrong_bytes_ = 0;
  double busbw_sum_ = 0;
  int rows_ = 0;
};

}  // namespace ring_bw
