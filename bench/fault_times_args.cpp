// fault_times: the command line.
#include "args.hpp"
#include "cli.hpp"
#include "fault_times.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace fault_times {
namespace {

using ringpipe_cli::quoted;
using ringpipe_cli::UsageError;

constexpr const char* kSynopsis =
    "[--world N] [--victim R] [--runs R] [--scenarios LIST] [OPTIONS]";

constexpr const char* kDescription =
    "Forks a ring of N ranks on 127.0.0.1; every rank streams messages to its successor.\n"
    "Per run, one fault hits the victim rank; each survivor reports the code and time of\n"
    "its first failed operation. Prints, per scenario, the median and worst detection time\n"
    "of the victim's neighbours, of the farthest rank and of the whole ring, and the codes.\n"
    "  kill   SIGKILL               stop   SIGSTOP (killed after the run)\n"
    "  close  the victim destroys its Ring (orderly)\n"
    "  abort  the victim calls Ring::abort()\n"
    "Survivors keep their failed rings until the run ends, so a rank that the library does\n"
    "not tell ends at the operation timeout (--op-timeout-ms) with Timeout.\n";

constexpr const char* kEpilog =
    "Exits 1 if a run failed: the ring did not form, a rank crashed, a survivor reported\n"
    "nothing (hung), or a receive completed without an error but without its data; 2 on a\n"
    "usage error.\n";

std::vector<Fault> parse_faults(std::string_view text) {
  std::vector<Fault> faults;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::optional<Fault> fault = parse_fault(text.substr(0, comma));
    if (!fault) return {};
    faults.push_back(*fault);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return faults;
}

// Milliseconds within [min, max] into `target`.
ringpipe_cli::ValueParser milliseconds(std::chrono::milliseconds& target, std::int64_t min,
                                       std::int64_t max) {
  return [&target, min, max](std::string_view given, std::string_view value) {
    std::int64_t ms = 0;
    ringpipe_cli::integer(ms, min, max)(given, value);
    target = std::chrono::milliseconds(ms);
  };
}

}  // namespace

int parse_args(int argc, char** argv, Config& config) {
  ringpipe_cli::Parser parser("fault_times", kSynopsis, kDescription, kEpilog);
  parser.add("--world", "N", "ranks in the ring (default 4)",
             ringpipe_cli::integer(config.world, 2, kMaxWorld));
  parser.add("--victim", "R", "the rank the fault hits (default 1)",
             ringpipe_cli::integer(config.victim, 0, kMaxWorld - 1));
  parser.add("--runs", "R", "runs per scenario (default 5)",
             ringpipe_cli::integer(config.runs, 1, 1000));
  parser.add("--scenarios", "LIST",
             "faults to inject, of kill,stop,close,abort\n"
             "(default kill,stop,close)",
             [&config](std::string_view given, std::string_view value) {
               config.faults = parse_faults(value);
               if (config.faults.empty()) {
                 throw UsageError(std::string(given) +
                                  " expects a list of kill, stop, close or abort, got " +
                                  quoted(value));
               }
             });
  parser.add("--liveness-ms", "MS", "the ring's liveness timeout (default 2000)",
             milliseconds(config.liveness, 1, 3'600'000));
  parser.add("--op-timeout-ms", "MS", "deadline of every operation in the ranks (default 10000)",
             milliseconds(config.op_timeout, 1, 3'600'000));
  parser.add("--warmup-ms", "MS", "streaming before the fault (default 300)",
             milliseconds(config.warmup, 0, 60'000));
  parser.add("--size", "BYTES", "message size, 16..4G, K/M/G = 1024^n (default 1M)",
             [&config](std::string_view given, std::string_view value) {
               const std::optional<std::size_t> size = ring_bw::parse_size(value);
               if (!size || *size < 16) {  // room for the stamps at both ends
                 throw UsageError(std::string(given) + " expects a size of 16..4G like 1M, got " +
                                  quoted(value));
               }
               config.size = *size;
             });
  parser.add("--json", "FILE", "also write the results to FILE as JSON",
             [&config](std::string_view, std::string_view value) {
               config.json_path = std::string(value);
             });
  if (const std::optional<int> status = parser.parse(argc, argv)) {
    return *status == 0 ? 1 : *status;
  }
  if (config.victim >= config.world) {
    return parser.fail("--victim " + std::to_string(config.victim) +
                       " is not a rank of a ring of " + std::to_string(config.world));
  }
  return 0;
}

std::string_view to_string(Fault fault) {
  switch (fault) {
    case Fault::Kill:
      return "kill";
    case Fault::Stop:
      return "stop";
    case Fault::Close:
      return "close";
    case Fault::Abort:
      return "abort";
  }
  return "?";
}

std::optional<Fault> parse_fault(std::string_view text) {
  for (const Fault fault : {Fault::Kill, Fault::Stop, Fault::Close, Fault::Abort}) {
    if (text == to_string(fault)) return fault;
  }
  return std::nullopt;
}

}  // namespace fault_times
