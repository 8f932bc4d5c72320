// ring_bw: command-line parsing, in the spirit of nccl-tests' flags.
#include "args.hpp"

#include <charconv>
#include <cstdint>
#include <utility>

namespace ring_bw {
namespace {

constexpr std::size_t kDefaultMinBytes = 8;
constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;
constexpr std::size_t kDefaultFactor = 4;

template <typename Int>
std::optional<Int> parse_int(std::string_view text, Int min, Int max) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

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

ParseResult fail(std::string message) {
  ParseResult result;
  result.error = std::move(message);
  return result;
}

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
  const auto count = parse_int<std::uint64_t>(text, 0, kMaxMessageBytes);
  if (!count || *count > kMaxMessageBytes / multiplier) return std::nullopt;
  return static_cast<std::size_t>(*count * multiplier);
}

std::string usage() {
  return "Usage: ring_bw [--mode ring|stream|pingpong] [--sizes LIST | -b MIN -e MAX -f FACTOR]\n"
         "               [-n ITERS] [-w WARMUP] [--window W] [--progress MODE] [--json FILE]\n"
         "\n"
         "Moves messages of each size around the ring and checks every byte. Modes:\n"
         "  ring      every rank sends to its successor while receiving from its predecessor\n"
         "  stream    rank 0 sends W messages at a time to rank 1 (one-way bandwidth)\n"
         "  pingpong  rank 0 and rank 1 bounce one message (latency: half the round trip)\n"
         "Run it under a launcher, e.g.  ringpipe-run -n 2 -- ring_bw --mode stream\n"
         "\n"
         "  --sizes LIST              comma-separated sizes, e.g. 0,8,64K,1M (K/M/G = 1024^n)\n"
         "  -b, --minbytes MIN        smallest size of the sweep (default 8)\n"
         "  -e, --maxbytes MAX        largest size of the sweep (default 64M)\n"
         "  -f, --stepfactor FACTOR   multiply the size by FACTOR each step (default 4)\n"
         "  -n, --iters N             timed iterations per size (default 20)\n"
         "  -w, --warmup N            untimed iterations before them (default 5)\n"
         "  --window W                stream: messages in flight per iteration (default 32)\n"
         "  --progress MODE           busy, blocking or adaptive (default: RINGPIPE_PROGRESS)\n"
         "  --json FILE               also write the results to FILE as JSON (rank 0)\n"
         "  --device cpu|gpu          host or CUDA device buffers (default: RINGPIPE_COMM_DEVICE)\n"
         "  --corrupt-every N         self-test: damage one received byte every N iterations;\n"
         "                            the run must then report wrong data and exit 1\n"
         "  -h, --help                show this help\n"
         "\n"
         "Sizes may not exceed 4G. Exit status: 0 if every byte arrived intact, 1 on wrong data\n"
         "or a ringpipe error, 2 on a usage error.\n";
}

ParseResult parse_args(int argc, char** argv) {
  ParseResult result;
  BenchOptions& options = result.options;
  std::optional<std::vector<std::size_t>> listed_sizes;
  std::optional<std::size_t> min_bytes;
  std::optional<std::size_t> max_bytes;
  std::optional<std::size_t> factor;

  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      result.status = ParseStatus::Help;
      return result;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      name = arg.substr(0, 2);  // getopt style: -n20
      value = arg.substr(2);
    }
    const std::string given(name);  // as typed, for messages
    if (name == "--minbytes") name = "-b";
    if (name == "--maxbytes") name = "-e";
    if (name == "--stepfactor") name = "-f";
    if (name == "--iters") name = "-n";
    if (name == "--warmup") name = "-w";
    if (name != "--sizes" && name != "-b" && name != "-e" && name != "-f" && name != "-n" &&
        name != "-w" && name != "--corrupt-every" && name != "--device" && name != "--mode" &&
        name != "--window" && name != "--progress" && name != "--json") {
      return fail("unknown option '" + std::string(arg) + "'");
    }
    if (!value) {
      if (i + 1 >= argc) return fail("option " + std::string(arg) + " needs a value");
      value = argv[++i];
    }
    const std::string shown = "'" + std::string(*value) + "'";

    if (name == "--sizes") {
      listed_sizes = parse_size_list(*value);
      if (!listed_sizes)
        return fail("--sizes expects sizes of 0..4G like 0,8,64K,1M, got " + shown);
    } else if (name == "-b" || name == "-e") {
      const auto size = parse_size(*value);
      if (!size) return fail(given + " expects a size of 0..4G like 64K, got " + shown);
      (name == "-b" ? min_bytes : max_bytes) = size;
    } else if (name == "-f") {
      factor = parse_int<std::size_t>(*value, 2, std::size_t{1} << 20);
      if (!factor) return fail(given + " expects an integer factor >= 2, got " + shown);
    } else if (name == "--mode") {
      if (*value != "ring" && *value != "stream" && *value != "pingpong") {
        return fail("--mode expects ring, stream or pingpong, got " + shown);
      }
      options.mode = std::string(*value);
    } else if (name == "--window") {
      const auto window = parse_int<int>(*value, 1, kMaxWindow);
      if (!window) {
        return fail("--window expects an integer from 1 to " + std::to_string(kMaxWindow) +
                    ", got " + shown);
      }
      options.window = *window;
    } else if (name == "--progress") {
      if (*value != "busy" && *value != "blocking" && *value != "adaptive") {
        return fail("--progress expects busy, blocking or adaptive, got " + shown);
      }
      options.progress = std::string(*value);
    } else if (name == "--json") {
      if (value->empty()) return fail("--json expects a file name");
      options.json_path = std::string(*value);
    } else if (name == "--device") {
      if (*value != "cpu" && *value != "gpu")
        return fail("--device expects cpu or gpu, got " + shown);
      options.device = std::string(*value);
    } else if (name == "--corrupt-every") {
      const auto every = parse_int<int>(*value, 1, kMaxIterations);
      if (!every) return fail(given + " expects an integer >= 1, got " + shown);
      options.corrupt_every = *every;
    } else {
      const int min = name == "-n" ? 1 : 0;
      const auto count = parse_int<int>(*value, min, kMaxIterations);
      if (!count) {
        return fail(given + " expects an integer from " + std::to_string(min) + " to " +
                    std::to_string(kMaxIterations) + ", got " + shown);
      }
      (name == "-n" ? options.iterations : options.warmup) = *count;
    }
  }

  if (listed_sizes) {
    if (min_bytes || max_bytes || factor) return fail("use either --sizes or -b/-e/-f, not both");
    options.sizes = std::move(*listed_sizes);
  } else {
    const std::size_t min = min_bytes.value_or(kDefaultMinBytes);
    const std::size_t max = max_bytes.value_or(kDefaultMaxBytes);
    if (min > max)
      return fail("-b (" + std::to_string(min) + ") exceeds -e (" + std::to_string(max) + ")");
    options.sizes = geometric_sweep(min, max, factor.value_or(kDefaultFactor));
  }
  result.status = ParseStatus::Run;
  return result;
}

}  // namespace ring_bw
