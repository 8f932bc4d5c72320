// Test fixture: runs a test body in N real rank processes on 127.0.0.1.
//
// The parent binds the rendezvous port itself (port 0, so tests run in parallel), then starts
// the test binary again once per rank, filtered to the current test, with the ring described
// in RINGPIPE_* variables and the listening socket handed to rank 0. In a child, spawn_ranks()
// runs the body for that rank and exits: 0 if no assertion failed, 1 otherwise, 2 on an
// uncaught exception. The parent waits with a deadline, kills every rank on expiry, and returns
// each rank's exit status and output.
#pragma once

#include <ringpipe/options.hpp>
#include <ringpipe/ring.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ringpipe::test {

struct RankResult {
  int rank = 0;
  int exit_code = -1;  // -1 if killed by a signal
  int signal = 0;
  bool timed_out = false;
  double seconds = 0;  // from spawn to exit
  std::string output;  // stdout and stderr, interleaved
  // When each complete line of `output` was read, in seconds from spawn: the time of an event
  // the rank printed, without the process's exit (which sanitizers make slow).
  std::vector<double> line_seconds;
};

struct SpawnOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // Extra or changed environment variables of one rank, applied before it starts.
  std::function<void(int rank, std::map<std::string, std::string>& env)> customize;
  // Ranks to start; default all. Leaving a rank out simulates one that never arrives.
  std::vector<int> ranks;
  // Kill the other ranks as soon as one fails (exit code other than 0, or a signal), so a
  // failing test ends at once instead of at its timeout.
  bool stop_on_failure = true;
  // Called in the parent once the rendezvous port listens and before any rank starts, for
  // tests that also talk to the head (the listen backlog holds their connections until rank 0
  // accepts them).
  std::function<void(std::uint16_t port)> on_listening;
};

// Runs `body(rank)` in `world_size` processes; returns in the parent only.
std::vector<RankResult> spawn_ranks(int world_size, const std::function<void(int rank)>& body,
                                    const SpawnOptions& options = {});

// Runs `body(ring)` in a ring of `world_size` processes and expects every rank to succeed.
void run_ring(int world_size, const std::function<void(Ring& ring)>& body,
              const SpawnOptions& options = {});

// True in a rank process (then spawn_ranks never returns).
bool is_rank_process();

// Human-readable summary of failing ranks, for assertion messages.
std::string describe_failures(const std::vector<RankResult>& results);

// Patterned buffers: byte i of message `seed` is a function of both, so a misplaced, stale or
// truncated message is caught, not only a corrupted byte.
void fill_pattern(void* data, std::size_t size, std::uint64_t seed);
std::size_t count_wrong(const void* data, std::size_t size, std::uint64_t seed);

}  // namespace ringpipe::test
