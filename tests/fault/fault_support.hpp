// Shared by the fault tests: the stamp a rank that fails on purpose leaves for the others to
// time their detection from, ring-wide steps, and the survivors' verdict lines.
#pragma once

#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"
#include "rank_events.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ringpipe::test {

double seconds_since(std::chrono::steady_clock::time_point start);

// Runs `call`, expecting Error{code} naming `text` within `max_seconds`.
template <typename F>
void expect_error_within(Errc code, const std::string& text, double max_seconds, F&& call) {
  EXPECT_LT(expect_error(code, text, call), max_seconds);
}

// A rank that fails on purpose leaves its pid and the moment (steady clock, shared by every
// process of the host) in a file, so the others can time their detection from it.
struct FaultStamp {
  std::int64_t pid = 0;
  std::int64_t at_ns = 0;
};

void write_stamp();
FaultStamp read_stamp();
// Seconds since the failing rank's stamp (a test failure if it left none).
double seconds_since_stamp();

// One rank fails on purpose: a stamp file named after `name`, and the liveness timeout.
SpawnOptions fault_options(const std::string& name, const std::string& liveness_s);

// Every rank streams to its successor until an operation fails; returns that error.
// `receiving` runs once the first receive is posted.
Error stream_until_failure(Ring& ring, std::size_t size,
                           const std::function<void()>& receiving = {});

// Ring-wide exchange, so every rank is past construction before a fault is injected.
void barrier(Ring& ring);

// Waits until the predecessor, which marked `event`, has exited, receiving nothing from it
// meanwhile but keeping this rank's transport moving (a receive for a tag it never sends), so
// that its sends complete into this rank's queues. False if it had not exited within 20 s.
bool wait_for_exit_of_pred_unreceived(Ring& ring, const RankEvents& events,
                                      const std::string& event);

// Shows each survivor's verdict line in the test's output: the detection times, for the record.
void print_verdicts(const std::vector<RankResult>& results);

}  // namespace ringpipe::test
