// ring_bw: table layout. The columns through the in-place group are nccl-tests' own: names,
// units, widths and the closing lines, so scripts written for nccl-tests parse this output
// unchanged. ring_bw has no in-place variant, so that group reads N/A; p50, p99 and cpu follow.
#include "report.hpp"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

namespace ring_bw {
namespace {

constexpr double kBytesPerGB = 1e9;  // GB/s as nccl-tests means it, not GiB/s

double algbw_of(const SizeRow& row) {
  return row.mean_seconds > 0 ? static_cast<double>(row.bytes) / row.mean_seconds / kBytesPerGB : 0;
}

// A time cell: fewer decimals as times grow, so the column keeps its width (nccl-tests' rule).
std::string time_cell(double seconds) {
  const double us = seconds * 1e6;
  char cell[32];
  std::snprintf(cell, sizeof cell, "%7.*f", us >= 10000 ? 0 : us >= 100 ? 1 : 2, us);
  return cell;
}

}  // namespace

void Report::print_header(const std::string& preamble) {
  std::fputs(preamble.c_str(), stdout);
  std::printf("#\n");
  std::printf("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place\n",
              "", "", "", "", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s  %7s  %7s  %6s\n",
              "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
              "algbw", "busbw", "#wrong", "p50", "p99", "cpu");
  std::printf(
      "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s  %7s  %7s  %6s\n", "(B)",
      "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "",
      "(us)", "(us)", "(%)");
}

void Report::print_row(const SizeRow& row) {
  const double algbw = algbw_of(row);
  const double busbw = algbw * row.bus_factor;
  // Elements are bytes (uint8); a point-to-point transfer has no reduction and no root.
  std::printf("%12zu  %12zu  %8s  %6s  %6i  %7s  %6.2f  %6.2f  %5" PRIu64
              "  %7s  %6s  %6s  %5s  %7s  %7s  %6.1f\n",
              row.bytes, row.bytes, "uint8", "none", -1, time_cell(row.mean_seconds).c_str(), algbw,
              busbw, row.wrong_bytes, "N/A", "N/A", "N/A", "N/A",
              time_cell(row.p50_seconds).c_str(), time_cell(row.p99_seconds).c_str(),
              row.cpu_percent);
  wrong_bytes_ += row.wrong_bytes;
  busbw_sum_ += busbw;
  rows_.push_back(row);
}

void Report::write_json(const std::string& path) const {
  std::ofstream out(path);
  out << "[";
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const SizeRow& row = rows_[i];
    const double algbw = algbw_of(row);
    char object[512];
    std::snprintf(object, sizeof object,
                  "%s\n  {\"mode\": \"%s\", \"size_bytes\": %zu, \"iters\": %d, "
                  "\"time_us\": %.4f, \"algbw_gbps\": %.4f, \"busbw_gbps\": %.4f, "
                  "\"p50_us\": %.4f, \"p99_us\": %.4f, \"cpu_pct\": %.2f, \"wrong\": %" PRIu64 "}",
                  i == 0 ? "" : ",", mode_.c_str(), row.bytes, row.iterations,
                  row.mean_seconds * 1e6, algbw, algbw * row.bus_factor, row.p50_seconds * 1e6,
                  row.p99_seconds * 1e6, row.cpu_percent, row.wrong_bytes);
    out << object;
  }
  out << "\n]\n";
  out.close();
  if (!out) throw std::runtime_error("cannot write the JSON results to " + path);
}

void Report::print_footer() {
  std::printf("# Out of bounds values : %" PRIu64 " %s\n", wrong_bytes_,
              wrong_bytes_ == 0 ? "OK" : "FAILED");
  std::printf("# Avg bus bandwidth    : %g\n",
              rows_.empty() ? 0.0 : busbw_sum_ / static_cast<double>(rows_.size()));
  std::printf("#\n");
  std::printf("# ringpipe ring_bw concluded\n");
}

}  // namespace ring_bw
