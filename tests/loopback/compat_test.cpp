// The seed-parity API: initialize_distributed and its accessors over real rank processes.
#include <ringpipe/compat.hpp>
#include <ringpipe/error.hpp>

#include "expect_error.hpp"
#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ringpipe {
namespace {

using test::expect_error;
using test::spawn_ranks;

// initialize_distributed with the arguments a launcher's environment describes.
void initialize_from_env(const std::string& comm_device = "cpu") {
  initialize_distributed(std::getenv("RINGPIPE_HEAD"), std::atoi(std::getenv("RINGPIPE_PORT")),
                         std::atoi(std::getenv("RINGPIPE_WORLD_SIZE")),
                         std::atoi(std::getenv("RINGPIPE_RANK")),
                         std::atoi(std::getenv("RINGPIPE_LOCAL_RANK")), comm_device);
}

void expect_all_ok(const std::vector<test::RankResult>& results) {
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

TEST(Compat, GroupsCarryActivationsForwardAndTokensAroundTheWrap) {
  expect_all_ok(spawn_ranks(3, [](int rank) {
    initialize_from_env();
    EXPECT_EQ(get_comm_device(), "cpu");
    PipeGroup& pred = get_pipeline_parallel_pred_group();
    PipeGroup& succ = get_pipeline_parallel_succ_group();
    EXPECT_EQ(pred.peer(), (rank + 2) % 3);
    EXPECT_EQ(succ.peer(), (rank + 1) % 3);
    std::int64_t sent = 1000 + rank, received = 0;
    Request receive = pred.irecv(&received, sizeof received, 3);
    succ.send(&sent, sizeof sent, 3);
    receive.wait();
    EXPECT_EQ(received, 1000 + (rank + 2) % 3);
    finalize_distributed();
  }));
}

TEST(Compat, InitializeSuppressesOtherRanksAndFinalizeRestoresTheirOutput) {
  const auto results = spawn_ranks(2, [](int rank) {
    for (int round = 0; round < 2; ++round) {  // a second ring after finalize, same port
      initialize_from_env();
      std::printf("round %d during %d\n", round, rank);
      std::fflush(stdout);
      std::int64_t sent = round, received = -1;
      Request receive = get_pipeline_parallel_pred_group().irecv(&received, sizeof received);
      get_pipeline_parallel_succ_group().send(&sent, sizeof sent);
      receive.wait();
      if (received != round) print(true, "wrong value", received);
      finalize_distributed();
      std::printf("round %d after %d\n", round, rank);
      std::fflush(stdout);
    }
  });
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results)
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  EXPECT_NE(results[0].output.find("round 1 during 0"), std::string::npos) << results[0].output;
  EXPECT_EQ(results[1].output.find("during 1"), std::string::npos) << results[1].output;
  EXPECT_NE(results[1].output.find("round 1 after 1"), std::string::npos) << results[1].output;
  EXPECT_EQ(results[1].output.find("wrong value"), std::string::npos) << results[1].output;
}

TEST(Compat, AccessorsBeforeInitializeAreInvalidArgument) {
  expect_error(Errc::InvalidArgument, "before initialize_distributed",
               [] { (void)get_pipeline_parallel_pred_group(); });
  expect_error(Errc::InvalidArgument, "before initialize_distributed",
               [] { (void)get_pipeline_parallel_succ_group(); });
  expect_error(Errc::InvalidArgument, "before initialize_distributed",
               [] { (void)get_comm_device(); });
}

TEST(Compat, UnknownCommDeviceIsInvalidArgumentNamingIt) {
  expect_error(Errc::InvalidArgument, "tpu",
               [] { initialize_distributed("127.0.0.1", 0, 1, 0, 0, "tpu"); });
}

TEST(Compat, GpuWithoutGpuSupportIsUnsupported) {
  expect_error(Errc::Unsupported, "GPU",
               [] { initialize_distributed("127.0.0.1", 0, 1, 0, 0, "gpu"); });
}

TEST(Compat, InitializeTwiceIsInvalidArgumentAndFinalizeAllowsAnother) {
  initialize_distributed("127.0.0.1", 0, 1, 0, 0, "cpu");
  expect_error(Errc::InvalidArgument, "twice",
               [] { initialize_distributed("127.0.0.1", 0, 1, 0, 0, "cpu"); });
  std::uint32_t value = 0xfeed, received = 0;
  Request receive = get_pipeline_parallel_pred_group().irecv(&received, sizeof received);
  get_pipeline_parallel_succ_group().send(&value, sizeof value);
  receive.wait();
  EXPECT_EQ(received, 0xfeedu) << "a 1-rank ring is a self-loop";
  finalize_distributed();
  initialize_distributed("127.0.0.1", 0, 1, 0, 0, "cpu");
  finalize_distributed();
}

TEST(Compat, ArgumentsWinOverStaleLauncherVariables) {
  // Variables a launcher left behind that contradict the call (rank 5 of 2, no port).
  ::setenv("RANK", "5", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  initialize_distributed("127.0.0.1", 0, 1, 0, 0, "cpu");
  EXPECT_EQ(get_ring().world_size(), 1);
  finalize_distributed();
  ::unsetenv("RANK");
  ::unsetenv("WORLD_SIZE");
}

TEST(Compat, BadArgumentsAreInvalidArgument) {
  expect_error(Errc::InvalidArgument, "port",
               [] { initialize_distributed("127.0.0.1", 70000, 1, 0, 0, "cpu"); });
  expect_error(Errc::InvalidArgument, "rank",
               [] { initialize_distributed("127.0.0.1", 0, 2, 5, 0, "cpu"); });
}

TEST(Compat, SuppressOutputShowsOnlyRankZeroUnlessForced) {
  const auto results = spawn_ranks(2, [](int rank) {
    initialize_from_env();
    suppress_output(rank);
    std::printf("plain %d\n", rank);
    print(false, "unforced", rank);
    print(true, "forced", rank);
    std::fflush(stdout);
    finalize_distributed();
  });
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    ASSERT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
  const std::string& rank0 = results[0].output;
  const std::string& rank1 = results[1].output;
  EXPECT_NE(rank0.find("plain 0"), std::string::npos) << rank0;
  EXPECT_NE(rank0.find("unforced 0"), std::string::npos) << rank0;
  EXPECT_NE(rank0.find("rank #0: forced 0"), std::string::npos) << rank0;
  EXPECT_EQ(rank1.find("plain 1"), std::string::npos) << rank1;
  EXPECT_EQ(rank1.find("unforced 1"), std::string::npos) << rank1;
  EXPECT_NE(rank1.find("rank #1: forced 1"), std::string::npos) << rank1;
}

}  // namespace
}  // namespace ringpipe
