// ringpipe-run: command-line parsing.
#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace ringpipe_run {
namespace {

// A day is far beyond any sensible shutdown wait; the cap keeps the millisecond count finite.
constexpr double kMaxGraceSeconds = 86400;

std::optional<int> parse_world_size(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > kMaxWorldSize) return std::nullopt;
  return value;
}

std::optional<std::chrono::milliseconds> parse_grace(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(seconds) || seconds < 0 || seconds > kMaxGraceSeconds) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

ParseResult fail(std::string message) {
  ParseResult result;
  result.status = ParseStatus::Error;
  result.error = std::move(message);
  return result;
}

}  // namespace

std::string usage() {
  return "Usage: ringpipe-run -n N [--comm-device cpu|gpu] [--grace SECONDS] [--] program "
         "args...\n"
         "\n"
         "Starts N ranks of program on this host, wired for a ringpipe rendezvous. Each job gets\n"
         "its own random RINGPIPE_TOKEN, which the rendezvous checks, unless RINGPIPE_TOKEN is "
         "set.\n"
         "Ranks also get torch.distributed's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and\n"
         "MASTER_PORT (the rendezvous port - 1, kept free for rank 0's torch store).\n"
         "\n"
         "  -n N                  number of ranks, 1.." +
         std::to_string(kMaxWorldSize) +
         "\n"
         "  --comm-device DEV     cpu (default) or gpu, exported as RINGPIPE_COMM_DEVICE\n"
         "  --grace SECONDS       wait this long after SIGTERM before SIGKILL (default 5)\n"
         "  -h, --help            show this help and exit\n"
         "  --version             show the version and exit\n";
}

ParseResult parse_options(int argc, char** argv) {
  ParseResult result;
  Options& options = result.options;
  bool have_world_size = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-h" || arg == "--help") {
      result.status = ParseStatus::Help;
      return result;
    }
    if (arg == "--version") {
      result.status = ParseStatus::Version;
      return result;
    }
    // The first word that is not an option starts the program, so its own flags pass through.
    if (arg.size() < 2 || arg[0] != '-') break;

    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (arg.starts_with("-n") && arg.size() > 2 && arg[1] != '-') {
      name = "-n";
      value = arg.substr(2);
    }
    if (name != "-n" && name != "--comm-device" && name != "--grace") {
      return fail("unknown option '" + arg + "'");
    }
    if (!value) {
      if (i + 1 >= argc) return fail("option " + name + " needs a value");
      value = argv[++i];
    }

    if (name == "-n") {
      const auto world_size = parse_world_size(*value);
      if (!world_size) {
        return fail("-n expects an integer from 1 to " + std::to_string(kMaxWorldSize) + ", got '" +
                    *value + "'");
      }
      options.world_size = *world_size;
      have_world_size = true;
    } else if (name == "--comm-device") {
      if (*value != "cpu" && *value != "gpu") {
        return fail("--comm-device must be cpu or gpu, got '" + *value + "'");
      }
      options.comm_device = *value;
    } else {
      const auto grace = parse_grace(*value);
      if (!grace) return fail("--grace expects a number of seconds >= 0, got '" + *value + "'");
      options.grace = *grace;
    }
  }

  options.program.assign(argv + i, argv + argc);
  if (!have_world_size) return fail("missing -n N (the number of ranks)");
  if (options.program.empty()) return fail("missing program to run");
  result.status = ParseStatus::Run;
  return result;
}

}  // namespace ringpipe_run
