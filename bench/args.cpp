// ring_bw and copy_bw: their command lines, in the spirit of nccl-tests' flags.
#include "args.hpp"

#include <cstdint>
#include <utility>

namespace ring_bw {
namespace {

using ringpipe_cli::quoted;
using ringpipe_cli::UsageError;

constexpr std::size_t kDefaultMinBytes = 8;
constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;
constexpr std::size_t kDefaultFactor = 4;

std::optional<std::vector<std::size_t>> parse_size_list(std::string_view text) {
  std::vector<std::size_t> sizes;
  while (true) {
    const auto comma = text.find(',');
    const auto size = parse_size(text.substr(0, comma));
    if (!size) return std::nullopt;
    sizes.push_back(*size);
    if (comma == std::string_view::npos) return sizes;
    text.remove_prefix(comma + 1);
  }
}

// nccl-tests' -b/-e/-f sweep: MIN, MIN*F, MIN*F^2, ... up to MAX inclusive.
std::vector<std::size_t> geometric_sweep(std::size_t min, std::size_t max, std::size_t factor) {
  std::vector<std::size_t> sizes;
  std::size_t size = min;
  if (size == 0) {
    // Zero never grows by multiplication: run it, then sweep on from one byte.
    sizes.push_back(0);
    size = 1;
  }
  while (size <= max) {
    sizes.push_back(size);
    if (size > max / factor) break;
    size *= factor;
  }
  return sizes;
}

ringpipe_cli::ValueParser size_bound(std::optional<std::size_t>& target) {
  return [&target](std::string_view given, std::string_view value) {
    target = parse_size(value);
    if (!target) {
      throw UsageError(std::string(given) + " expects a size of 0..4G like 64K, got " +
                       quoted(value));
    }
  };
}

constexpr const char* kSynopsis =
    "[--mode ring|stream|pingpong] [--sizes LIST | -b MIN -e MAX -f FACTOR] [OPTIONS]";

constexpr const char* kDescription =
    "Moves messages of each size around the ring and checks every byte. Modes:\n"
    "  ring      every rank sends to its successor while receiving from its predecessor\n"
    "  stream    rank 0 sends W messages at a time to rank 1 (one-way bandwidth)\n"
    "  pingpong  rank 0 and rank 1 bounce one message (latency: half the round trip)\n"
    "Run it under a launcher, e.g.  ringpipe-run -n 2 -- ring_bw --mode stream\n"
    "Rank 0 prints a table with nccl-tests' columns; the in-place group reads N/A, as every\n"
    "message travels between separate send and receive buffers.\n";

constexpr const char* kEpilog =
    "Sizes may not exceed 4G. Exit status: 0 if every byte arrived intact, 1 on wrong data\n"
    "or a ringpipe error, 2 on a usage error.\n";

}  // namespace

std::optional<std::size_t> parse_size(std::string_view text) {
  std::uint64_t multiplier = 1;
  if (!text.empty()) {
    constexpr std::string_view kSuffixes = "KMG";
    const auto unit = kSuffixes.find(static_cast<char>(text.back() & ~0x20));  // upper case
    if (unit != std::string_view::npos) {
      multiplier = std::uint64_t{1} << (10 * (unit + 1));
      text.remove_suffix(1);
    }
  }
  const auto count = ringpipe_cli::parse_integer<std::uint64_t>(text, 0, kMaxMessageBytes);
  if (!count || *count > kMaxMessageBytes / multiplier) return std::nullopt;
  return static_cast<std::size_t>(*count * multiplier);
}

void add_sweep_options(ringpipe_cli::Parser& parser, SweepOptions& options, SizeArgs& sizes) {
  parser.add(
      "--sizes", "LIST", "comma-separated sizes, e.g. 0,8,64K,1M (K/M/G = 1024^n)",
      [&sizes](std::string_view, std::string_view value) {
        sizes.listed = parse_size_list(value);
        if (!sizes.listed) {
          throw UsageError("--sizes expects sizes of 0..4G like 0,8,64K,1M, got " + quoted(value));
        }
      });
  parser.add("-b, --minbytes", "MIN", "smallest size of the sweep (default 8)",
             size_bound(sizes.min_bytes));
  parser.add("-e, --maxbytes", "MAX", "largest size of the sweep (default 64M)",
             size_bound(sizes.max_bytes));
  parser.add("-f, --stepfactor", "FACTOR", "multiply the size by FACTOR each step (default 4)",
             [&sizes](std::string_view given, std::string_view value) {
               sizes.factor =
                   ringpipe_cli::parse_integer<std::size_t>(value, 2, std::size_t{1} << 20);
               if (!sizes.factor) {
                 throw UsageError(std::string(given) + " expects an integer factor >= 2, got " +
                                  quoted(value));
               }
             });
  parser.add("-n, --iters", "N", "timed iterations per size (default 20)",
             ringpipe_cli::integer(options.iterations, 1, kMaxIterations));
  parser.add("-w, --warmup", "N", "untimed iterations before them (default 5)",
             ringpipe_cli::integer(options.warmup, 0, kMaxIterations));
  parser.add("--device", "cpu|gpu", "host or CUDA device buffers (default: RINGPIPE_COMM_DEVICE)",
             ringpipe_cli::one_of(options.device, {"cpu", "gpu"}));
}

std::vector<std::size_t> resolve_sizes(const SizeArgs& sizes) {
  if (sizes.listed) {
    if (sizes.min_bytes || sizes.max_bytes || sizes.factor) {
      throw UsageError("use either --sizes or -b/-e/-f, not both");
    }
    return *sizes.listed;
  }
  const std::size_t min = sizes.min_bytes.value_or(kDefaultMinBytes);
  const std::size_t max = sizes.max_bytes.value_or(kDefaultMaxBytes);
  if (min > max) {
    throw UsageError("-b (" + std::to_string(min) + ") exceeds -e (" + std::to_string(max) + ")");
  }
  return geometric_sweep(min, max, sizes.factor.value_or(kDefaultFactor));
}

std::optional<int> parse_args(int argc, char** argv, BenchOptions& options) {
  ringpipe_cli::Parser parser("ring_bw", kSynopsis, kDescription, kEpilog);
  SizeArgs sizes;
  add_sweep_options(parser, options, sizes);
  parser.add("--mode", "MODE", "ring (default), stream or pingpong",
             ringpipe_cli::one_of(options.mode, {"ring", "stream", "pingpong"}));
  parser.add("--window", "W", "stream: messages in flight per iteration (default 32)",
             ringpipe_cli::integer(options.window, 1, kMaxWindow));
  parser.add("--progress", "MODE", "busy, blocking or adaptive (default: RINGPIPE_PROGRESS)",
             ringpipe_cli::one_of(options.progress, {"busy", "blocking", "adaptive"}));
  const auto json_path = [&options](std::string_view given, std::string_view value) {
    if (value.empty()) throw UsageError(std::string(given) + " expects a file name");
    options.json_path = std::string(value);
  };
  parser.add("--json", "FILE", "also write the results to FILE as JSON (rank 0)", json_path);
  parser.add("-J, --output_file", "FILE", "the same as --json (nccl-tests' name)", json_path);
  parser.add_flag("--registered",
                  "allocate the message buffers with Ring::allocate: on one host the receiver\n"
                  "copies each message once, from its mapping of the sender's buffer",
                  options.registered);
  parser.add_flag("--stats",
                  "print each rank's counters of the timed transfers (Ring::stats)\n"
                  "at the end: messages/bytes per edge and direction",
                  options.stats);
  parser.add(
      "--corrupt-every", "N",
      "self-test: damage one received byte every N iterations;\n"
      "the run must then report wrong data and exit 1",
      [&options](std::string_view given, std::string_view value) {
        const auto every = ringpipe_cli::parse_integer<int>(value, 1, kMaxIterations);
        if (!every) {
          throw UsageError(std::string(given) + " expects an integer >= 1, got " + quoted(value));
        }
        options.corrupt_every = *every;
      });
  if (const std::optional<int> status = parser.parse(argc, argv)) return status;
  try {
    options.sizes = resolve_sizes(sizes);
  } catch (const UsageError& error) {
    return parser.fail(error.what());
  }
  return std::nullopt;
}

}  // namespace ring_bw
