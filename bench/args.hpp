// ring_bw: command-line options.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ring_bw {

// Beyond this one message's buffers alone would crowd out a typical host.
inline constexpr std::size_t kMaxMessageBytes = std::size_t{4} << 30;
// Each timed iteration's sample travels around the ring, so this also bounds that message (8 MB).
inline constexpr int kMaxIterations = 1'000'000;
inline constexpr int kMaxWindow = 4096;

struct BenchOptions {
  std::vector<std::size_t> sizes;  // message sizes in bytes, in the order they run
  int iterations = 20;
  int warmup = 5;
  // Self-test of the checker: damage one received byte every this many iterations (0 = never),
  // so the run must report wrong data and fail.
  int corrupt_every = 0;
  // "cpu" or "gpu": where the buffers live; overrides RINGPIPE_COMM_DEVICE ("" = leave it).
  std::string device;
  std::string mode = "ring";  // ring, stream or pingpong
  int window = 32;            // stream: messages in flight per iteration
  std::string progress;       // busy, blocking or adaptive; overrides RINGPIPE_PROGRESS
  std::string json_path;      // rank 0 writes the results there as JSON ("" = no file)
};

enum class ParseStatus { Run, Help, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::Error;
  BenchOptions options;
  std::string error;  // names the problem when status is Error
};

ParseResult parse_args(int argc, char** argv);

std::string usage();

// "4096", "64K", "1M", "2G" (powers of 1024); nullopt if malformed or above kMaxMessageBytes.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace ring_bw
