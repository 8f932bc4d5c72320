// Deadline: one budget per operation, never expiring when infinite, clamped for poll().
#include "deadline.hpp"

#include <ringpipe/request.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace ringpipe::detail {
namespace {

using namespace std::chrono_literals;

TEST(Deadline, ZeroTimeoutIsExpiredAtOnceWithNothingLeft) {
  const Deadline deadline(0ms);
  EXPECT_TRUE(deadline.expired());
  EXPECT_EQ(deadline.remaining_ms(), 0);
  EXPECT_EQ(deadline.budget(), Clock::duration::zero());
}

TEST(Deadline, NegativeTimeoutIsExpiredAndClampedToZero) {
  const Deadline deadline(-5ms);
  EXPECT_TRUE(deadline.expired());
  EXPECT_EQ(deadline.remaining_ms(), 0);
  EXPECT_EQ(deadline.remaining_ms(100), 0);
}

TEST(Deadline, InfiniteNeverExpiresAndAlwaysHasTheCapLeft) {
  const Deadline deadline(kInfinite);
  EXPECT_FALSE(deadline.expired());
  EXPECT_EQ(deadline.remaining_ms(), 1 << 30);
  EXPECT_EQ(deadline.remaining_ms(250), 250);
  EXPECT_EQ(deadline.at(), Clock::time_point::max());
  EXPECT_EQ(deadline.budget(), Clock::duration::max());
}

TEST(Deadline, TimeoutBeyondTheClocksRangeSaturatesToInfinite) {
  // Adding it to now() would overflow the clock; it must not wrap into the past.
  const Deadline deadline(kInfinite - 1ms);
  EXPECT_FALSE(deadline.expired());
  EXPECT_EQ(deadline.at(), Clock::time_point::max());
  EXPECT_EQ(deadline.budget(), Clock::duration::max());
}

TEST(Deadline, BudgetIsTheTimeoutGivenAndAtIsMeasuredFromConstruction) {
  const auto before = Clock::now();
  const Deadline deadline(1500ms);
  const auto after = Clock::now();
  EXPECT_EQ(deadline.budget(), Clock::duration(1500ms));
  EXPECT_GE(deadline.at(), before + 1500ms);
  EXPECT_LE(deadline.at(), after + 1500ms);
}

TEST(Deadline, RemainingIsAtMostTheTimeoutAndClampedToTheCap) {
  const Deadline deadline(10s);
  EXPECT_FALSE(deadline.expired());
  EXPECT_LE(deadline.remaining_ms(), 10000);
  EXPECT_GT(deadline.remaining_ms(), 9000);
  EXPECT_EQ(deadline.remaining_ms(100), 100);
  EXPECT_EQ(deadline.remaining_ms(0), 0);
}

TEST(Deadline, ExpiresOnceItsTimeoutHasPassedAndNotBefore) {
  const Deadline deadline(200ms);
  const Deadline bound(10s);
  while (!deadline.expired() && !bound.expired()) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(deadline.expired()) << "a 200 ms deadline did not expire within 10 s";
  EXPECT_GE(Clock::now(), deadline.at());
  EXPECT_GE(deadline.elapsed_s(), 0.2);
  EXPECT_EQ(deadline.remaining_ms(), 0);
}

TEST(Deadline, ElapsedCountsFromConstruction) {
  const Deadline deadline(10s);
  const double first = deadline.elapsed_s();
  EXPECT_GE(first, 0.0);
  std::this_thread::sleep_for(20ms);
  EXPECT_GE(deadline.elapsed_s(), first + 0.02);
}

TEST(FormatSeconds, ShowsTwoDecimalsAndTheUnit) {
  EXPECT_EQ(format_seconds(2.0), "2.00 s");
  EXPECT_EQ(format_seconds(1.234), "1.23 s");
  EXPECT_EQ(format_seconds(0.0), "0.00 s");
}

}  // namespace
}  // namespace ringpipe::detail
