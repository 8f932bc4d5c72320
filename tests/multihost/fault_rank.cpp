// One rank of a fault test: joins the ring the environment describes (Options::from_env()),
// then streams messages to its successor while receiving from its predecessor until an
// operation fails. Prints, each on its own line:
//   STREAMING                        once a first round went through both ways
//   FAULT <Errc> <ns> <what()>       the first failure, <ns> on CLOCK_MONOTONIC
//   NOFAULT                          --max-seconds passed without one (exit 3)
// Exit codes: 0 a failure was reported, 1 wrong data, 2 the ring did not form or usage,
// 3 no failure. `fault_rank --clock` prints CLOCK_MONOTONIC in ns, so a script can time a fault
// on the clock the ranks use.
#include "stamp.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

using ringpipe::tools::stamp;
using ringpipe::tools::stamped;

struct Args {
  std::size_t size = 4 << 20;
  std::chrono::milliseconds wait{std::chrono::seconds(20)};
  double max_seconds = 60;
  double linger_seconds = 2;
};

int usage() {
  std::fprintf(stderr,
               "usage: fault_rank [--size BYTES] [--wait-s S] [--max-seconds S] [--linger-s S]\n"
               "       fault_rank --clock\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--clock") {
      std::printf("%lld\n", static_cast<long long>(monotonic_ns()));
      return 0;
    }
    if (i + 1 >= argc) return usage();
    const double value = std::strtod(argv[++i], nullptr);
    if (flag == "--size" && value >= 16) {
      args.size = static_cast<std::size_t>(value);
    } else if (flag == "--wait-s" && value > 0) {
      args.wait = std::chrono::milliseconds(static_cast<std::int64_t>(value * 1000));
    } else if (flag == "--max-seconds" && value > 0) {
      args.max_seconds = value;
    } else if (flag == "--linger-s" && value >= 0) {
      args.linger_seconds = value;
    } else {
      return usage();
    }
  }

  std::optional<ringpipe::Ring> ring;
  try {
    ring.emplace(ringpipe::Options::from_env());
  } catch (const std::exception& error) {
    say(std::string("NOJOIN ") + error.what());
    return 2;
  }
  const int n = ring->world_size();
  const int r = ring->rank();
  const int pred = (r - 1 + n) % n;
  say("JOINED rank " + std::to_string(r) + " of " + std::to_string(n) + ": " +
      ring->succ().describe());
  std::vector<std::uint8_t> out(args.size), in(args.size);
  const auto start = std::chrono::steady_clock::now();
  const auto limit = std::chrono::duration<double>(args.max_seconds);
  int code = 3;
  try {
    for (std::uint64_t round = 0; std::chrono::steady_clock::now() - start < limit; ++round) {
      stamp(out, args.size, (std::uint64_t{static_cast<std::uint32_t>(r)} << 40) | round);
      ringpipe::Request receive = ring->pred().irecv(in.data(), in.size(), 1);
      ringpipe::Request send = ring->succ().isend(out.data(), args.size, 1);
      receive.wait(args.wait);
      send.wait(args.wait);
      if (receive.bytes() != args.size ||
          !stamped(in, args.size,
                   (std::uint64_t{static_cast<std::uint32_t>(pred)} << 40) | round)) {
        say("CORRUPT round " + std::to_string(round) + " from rank " + std::to_string(pred));
        return 1;
      }
      if (round == 0) say("STREAMING");
    }
    say("NOFAULT");
  } catch (const ringpipe::Error& error) {
    const std::int64_t at = monotonic_ns();
    say("FAULT " + std::string(ringpipe::to_string(error.code())) + " " + std::to_string(at) + " " +
        error.what());
    code = 0;
  }
  // Closing at once would tell the other survivors `Closed` before they noticed the fault
  // themselves; hold the ring a moment so each reports its own first failure.
  std::this_thread::sleep_for(std::chrono::duration<double>(args.linger_seconds));
  return code;
}
