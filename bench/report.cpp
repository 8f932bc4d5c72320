// ring_bw: table layout. Columns through #wrong keep nccl-tests' names, units and order, so
// scripts written for nccl-tests parse this output unchanged; new columns go after them.
#include "report.hpp"

#include <cinttypes>
#include <cstdio>

namespace ring_bw {
namespace {

constexpr double kBytesPerGB = 1e9;  // GB/s as nccl-tests means it, not GiB/s

}  // namespace

void Report::print_header(const std::string& preamble) {
  std::fputs(preamble.c_str(), stdout);
  std::printf("#\n");
  std::printf("#%12s%12s%6s%10s%8s%8s%8s\n", "size", "count", "type", "time", "algbw", "busbw",
              "#wrong");
  std::printf("#%12s%12s%6s%10s%8s%8s\n", "(B)", "(elements)", "", "(us)", "(GB/s)", "(GB/s)");
}

void Report::print_row(const SizeRow& row) {
  const double time_us = row.mean_seconds * 1e6;
  const double algbw =
      row.mean_seconds > 0 ? static_cast<double>(row.bytes) / row.mean_seconds / kBytesPerGB : 0;
  const double busbw = algbw * row.bus_factor;
  // nccl-tests' precision: fewer decimals as times grow, so the column keeps its width.
  const int time_decimals = time_us >= 10000 ? 0 : time_us >= 100 ? 1 : 2;
  std::printf("%13zu%12zu%6s%10.*f%8.2f%8.2f%8" PRIu64 "\n", row.bytes, row.bytes, "u8",
              time_decimals, time_us, algbw, busbw, row.wrong_bytes);
  wrong_bytes_ += row.wrong_bytes;
  busbw_sum_ += busbw;
  ++rows_;
}

void Report::print_footer() {
  std::printf("# Out of bounds values : %" PRIu64 " %s\n", wrong_bytes_,
              wrong_bytes_ == 0 ? "OK" : "FAILED");
  std::printf("# Avg bus bandwidth    : %.2f\n", rows_ > 0 ? busbw_sum_ / rows_ : 0.0);
  std::printf("# ringpipe ring_bw concluded\n");
}

}  // namespace ring_bw
