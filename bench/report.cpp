// ring_bw: table layout. Columns through #wrong keep nccl-tests' names, units and order, so
// scripts written for nccl-tests parse this output unchanged; new columns go after them.
#include "report.hpp"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace ring_bw {
namespace {

constexpr double kBytesPerGB = 1e9;  // GB/s as nccl-tests means it, not GiB/s

double algbw_of(const SizeRow& row) {
  return row.mean_seconds > 0 ? static_cast<double>(row.bytes) / row.mean_seconds / kBytesPerGB : 0;
}

}  // namespace

void Report::print_header(const std::string& preamble) {
  std::fputs(preamble.c_str(), stdout);
  std::printf("#\n");
  std::printf("#%12s%12s%6s%10s%8s%8s%8s%10s%10s%7s\n", "size", "count", "type", "time", "algbw",
              "busbw", "#wrong", "p50", "p99", "cpu");
  std::printf("#%12s%12s%6s%10s%8s%8s%8s%10s%10s%7s\n", "(B)", "(elements)", "", "(us)", "(GB/s)",
              "(GB/s)", "", "(us)", "(us)", "(%)");
}

void Report::print_row(const SizeRow& row) {
  const double time_us = row.mean_seconds * 1e6;
  const double algbw = algbw_of(row);
  const double busbw = algbw * row.bus_factor;
  // nccl-tests' precision: fewer decimals as times grow, so the column keeps its width.
  const auto decimals = [](double us) { return us >= 10000 ? 0 : us >= 100 ? 1 : 2; };
  std::printf("%13zu%12zu%6s%10.*f%8.2f%8.2f%8" PRIu64 "%10.*f%10.*f%7.1f\n", row.bytes, row.bytes,
              "u8", decimals(time_us), time_us, algbw, busbw, row.wrong_bytes,
              decimals(row.p50_seconds * 1e6), row.p50_seconds * 1e6,
              decimals(row.p99_seconds * 1e6), row.p99_seconds * 1e6, row.cpu_percent);
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
  std::printf("# Avg bus bandwidth    : %.2f\n",
              rows_.empty() ? 0.0 : busbw_sum_ / static_cast<double>(rows_.size()));
  std::printf("# ringpipe ring_bw concluded\n");
}

}  // namespace ring_bw
