// fault_times: the command line.
#include "args.hpp"
#include "fault_times.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fault_times {
namespace {

std::string usage() {
  return "Usage: fault_times [--world N] [--victim R] [--runs R] [--liveness-ms MS]\n"
         "                   [--op-timeout-ms MS] [--warmup-ms MS] [--size BYTES]\n"
         "                   [--scenarios kill,stop,close,abort] [--json FILE]\n"
         "\n"
         "Forks a ring of N ranks on 127.0.0.1; every rank streams messages to its successor.\n"
         "Per run, one fault hits the victim rank; each survivor reports the code and time of\n"
         "its first failed operation. Prints, per scenario, the median and worst detection time\n"
         "of the victim's neighbours, of the farthest rank and of the whole ring, and the codes.\n"
         "  kill   SIGKILL               stop   SIGSTOP (killed after the run)\n"
         "  close  the victim destroys its Ring (orderly)\n"
         "  abort  the victim calls Ring::abort()\n"
         "Survivors keep their failed rings until the run ends, so a rank that the library does\n"
         "not tell ends at the operation timeout (--op-timeout-ms, default 10000) with Timeout.\n"
         "Defaults: --world 4 --victim 1 --runs 5 --liveness-ms 2000 --warmup-ms 300 --size 1M\n"
         "--scenarios kill,stop,close.\n"
         "Exits 1 if a run failed: the ring did not form, a rank crashed, a survivor reported\n"
         "nothing (hung), or a receive completed without an error but without its data.\n";
}

template <typename Int>
bool parse_int(std::string_view text, Int min, Int max, Int& out) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < min || value > max) return false;
  out = value;
  return true;
}

bool parse_faults(std::string_view text, std::vector<Fault>& out) {
  out.clear();
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::optional<Fault> fault = parse_fault(text.substr(0, comma));
    if (!fault) return false;
    out.push_back(*fault);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return !out.empty();
}

}  // namespace

int parse_args(int argc, char** argv, Config& config) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::printf("%s", usage().c_str());
      return 1;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "fault_times: %s needs a value\n%s", argv[i], usage().c_str());
      return 2;
    }
    const std::string_view value = argv[++i];
    std::int64_t ms = 0;
    bool ok = true;
    if (flag == "--world") {
      ok = parse_int(value, 2, kMaxWorld, config.world);
    } else if (flag == "--victim") {
      ok = parse_int(value, 0, kMaxWorld - 1, config.victim);
    } else if (flag == "--runs") {
      ok = parse_int(value, 1, 1000, config.runs);
    } else if (flag == "--liveness-ms") {
      ok = parse_int<std::int64_t>(value, 1, 3'600'000, ms);
      config.liveness = std::chrono::milliseconds(ms);
    } else if (flag == "--op-timeout-ms") {
      ok = parse_int<std::int64_t>(value, 1, 3'600'000, ms);
      config.op_timeout = std::chrono::milliseconds(ms);
    } else if (flag == "--warmup-ms") {
      ok = parse_int<std::int64_t>(value, 0, 60'000, ms);
      config.warmup = std::chrono::milliseconds(ms);
    } else if (flag == "--size") {
      const std::optional<std::size_t> size = ring_bw::parse_size(value);
      ok = size && *size >= 16;  // room for the stamps at both ends
      if (ok) config.size = *size;
    } else if (flag == "--scenarios") {
      ok = parse_faults(value, config.faults);
    } else if (flag == "--json") {
      config.json_path = value;
    } else {
      std::fprintf(stderr, "fault_times: unknown option %s\n%s", argv[i - 1], usage().c_str());
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "fault_times: bad value for %s: %s\n", argv[i - 1], argv[i]);
      return 2;
    }
  }
  if (config.victim >= config.world) {
    std::fprintf(stderr, "fault_times: --victim %d is not a rank of a ring of %d\n", config.victim,
                 config.world);
    return 2;
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
