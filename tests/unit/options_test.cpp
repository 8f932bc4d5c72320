// Unit tests of Options: names of enums, environment parsing, precedence and validation.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/request.hpp>

#include "env_guard.hpp"
#include "invalid_argument.hpp"
#include "options_env.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace ringpipe {
namespace {

using std::chrono::milliseconds;
using test::contains;
using test::invalid_argument_message;
using test::OptionsFromEnv;
using test::set_env;

TEST(OptionsNames, ToStringNamesEveryEnumerator) {
  EXPECT_EQ(to_string(CommDevice::Cpu), "cpu");
  EXPECT_EQ(to_string(CommDevice::Gpu), "gpu");
  EXPECT_EQ(to_string(ProgressMode::BusyPoll), "busy");
  EXPECT_EQ(to_string(ProgressMode::Blocking), "blocking");
  EXPECT_EQ(to_string(ProgressMode::Adaptive), "adaptive");
  EXPECT_EQ(to_string(GpuTransport::Auto), "auto");
  EXPECT_EQ(to_string(GpuTransport::CudaIpc), "ipc");
  EXPECT_EQ(to_string(GpuTransport::Nccl), "nccl");
  EXPECT_EQ(to_string(GpuTransport::Ucx), "ucx");
}

TEST(OptionsNames, ParseRoundTripsToStringAndIgnoresCase) {
  for (CommDevice device : {CommDevice::Cpu, CommDevice::Gpu}) {
    EXPECT_EQ(parse_comm_device(to_string(device), "x"), device);
  }
  for (ProgressMode mode :
       {ProgressMode::BusyPoll, ProgressMode::Blocking, ProgressMode::Adaptive}) {
    EXPECT_EQ(parse_progress_mode(to_string(mode), "x"), mode);
  }
  for (GpuTransport transport :
       {GpuTransport::Auto, GpuTransport::CudaIpc, GpuTransport::Nccl, GpuTransport::Ucx}) {
    EXPECT_EQ(parse_gpu_transport(to_string(transport), "x"), transport);
  }
  EXPECT_EQ(parse_gpu_transport("CUDA_IPC", "x"), GpuTransport::CudaIpc);
  EXPECT_EQ(parse_comm_device("GPU", "x"), CommDevice::Gpu);
  EXPECT_EQ(parse_progress_mode("Adaptive", "x"), ProgressMode::Adaptive);
}

TEST(OptionsNames, BusyPollAliasesParseAsBusyPoll) {
  for (const char* alias : {"busy-poll", "busypoll", "poll", "BUSY"}) {
    EXPECT_EQ(parse_progress_mode(alias, "x"), ProgressMode::BusyPoll) << alias;
  }
}

TEST(OptionsNames, ParseErrorsNameTheSourceTheTextAndTheChoices) {
  const std::string device = invalid_argument_message([] { parse_comm_device("tpu", "--device"); });
  EXPECT_TRUE(contains(device, "--device")) << device;
  EXPECT_TRUE(contains(device, "\"tpu\"")) << device;
  EXPECT_TRUE(contains(device, "cpu") && contains(device, "gpu")) << device;

  const std::string transport =
      invalid_argument_message([] { parse_gpu_transport("gloo", "--transport"); });
  EXPECT_TRUE(contains(transport, "--transport") && contains(transport, "\"gloo\"")) << transport;
  EXPECT_TRUE(contains(transport, "ipc") && contains(transport, "nccl")) << transport;

  const std::string mode = invalid_argument_message([] { parse_progress_mode("", "--progress"); });
  EXPECT_TRUE(contains(mode, "--progress")) << mode;
  EXPECT_TRUE(contains(mode, "\"\"")) << mode;
  EXPECT_TRUE(contains(mode, "busy") && contains(mode, "blocking") && contains(mode, "adaptive"))
      << mode;
}

TEST_F(OptionsFromEnv, NoVariablesGiveTheDefaults) {
  const Options options = Options::from_env();
  const Options defaults;
  EXPECT_EQ(options.head, "127.0.0.1");
  EXPECT_EQ(options.port, 0);
  EXPECT_EQ(options.listen_fd, -1);
  EXPECT_EQ(options.world_size, 1);
  EXPECT_EQ(options.rank, 0);
  EXPECT_EQ(options.local_rank, 0);
  EXPECT_EQ(options.comm_device, CommDevice::Cpu);
  EXPECT_EQ(options.rendezvous_timeout, defaults.rendezvous_timeout);
  EXPECT_EQ(options.op_timeout, defaults.op_timeout);
  EXPECT_EQ(options.liveness_timeout, defaults.liveness_timeout);
  EXPECT_EQ(options.progress, ProgressMode::Adaptive);
  EXPECT_EQ(options.ifname, "");
  EXPECT_EQ(options.job_id, 0u);
  EXPECT_EQ(options.token, "");
  EXPECT_TRUE(options.gpu_copy_kernel);
  EXPECT_TRUE(options.single_copy);
  EXPECT_EQ(options.registered_min_bytes, std::size_t{64} << 10);
  EXPECT_EQ(options.single_copy_min_bytes, std::size_t{1} << 20);
  EXPECT_EQ(options.single_copy_max_bytes, std::size_t{8} << 20);
  EXPECT_NO_THROW(defaults.validate());
}

TEST_F(OptionsFromEnv, EveryRingpipeVariableSetsItsField) {
  set_env("RINGPIPE_HEAD", "node0.example");
  set_env("RINGPIPE_PORT", "29500");
  set_env("RINGPIPE_WORLD_SIZE", "8");
  set_env("RINGPIPE_RANK", "7");
  set_env("RINGPIPE_LOCAL_RANK", "3");
  set_env("RINGPIPE_COMM_DEVICE", "gpu");
  set_env("RINGPIPE_RENDEZVOUS_TIMEOUT_S", "0.5");
  set_env("RINGPIPE_OP_TIMEOUT_S", "30");
  set_env("RINGPIPE_LIVENESS_TIMEOUT_S", "inf");
  set_env("RINGPIPE_PROGRESS", "blocking");
  set_env("RINGPIPE_IFNAME", "enp65s0f0np0");
  set_env("RINGPIPE_JOB_ID", "0xDEADbeef00000001");
  set_env("RINGPIPE_LISTEN_FD", "5");
  set_env("RINGPIPE_GPU_TRANSPORT", "nccl");
  set_env("RINGPIPE_REQUIRE_FAST_PATH", "yes");
  set_env("RINGPIPE_GPU_COPY_KERNEL", "off");
  set_env("RINGPIPE_SINGLE_COPY", "0");
  set_env("RINGPIPE_REGISTERED_MIN_BYTES", "128k");
  set_env("RINGPIPE_SINGLE_COPY_MIN_BYTES", "2M");
  set_env("RINGPIPE_SINGLE_COPY_MAX_BYTES", "1G");
  set_env("RINGPIPE_TOKEN", "5f0c9e");

  const Options options = Options::from_env();
  EXPECT_EQ(options.head, "node0.example");
  EXPECT_EQ(options.port, 29500);
  EXPECT_EQ(options.world_size, 8);
  EXPECT_EQ(options.rank, 7);
  EXPECT_EQ(options.local_rank, 3);
  EXPECT_EQ(options.comm_device, CommDevice::Gpu);
  EXPECT_EQ(options.rendezvous_timeout, milliseconds(500));
  EXPECT_EQ(options.op_timeout, milliseconds(30000));
  EXPECT_EQ(options.liveness_timeout, kInfinite);
  EXPECT_EQ(options.progress, ProgressMode::Blocking);
  EXPECT_EQ(options.ifname, "enp65s0f0np0");
  EXPECT_EQ(options.job_id, 0xDEADBEEF00000001u);
  EXPECT_EQ(options.listen_fd, 5);
  EXPECT_EQ(options.gpu_transport, GpuTransport::Nccl);
  EXPECT_TRUE(options.require_fast_path);
  EXPECT_FALSE(options.gpu_copy_kernel);
  EXPECT_FALSE(options.single_copy);
  EXPECT_EQ(options.registered_min_bytes, std::size_t{128} << 10);
  EXPECT_EQ(options.single_copy_min_bytes, std::size_t{2} << 20);
  EXPECT_EQ(options.single_copy_max_bytes, std::size_t{1} << 30);
  EXPECT_EQ(options.token, "5f0c9e");
}

// Any bytes make an HMAC key: the token is kept exactly, spaces, quotes and all.
TEST_F(OptionsFromEnv, TokenIsTakenByteForByte) {
  const std::string token = " s3cr=t \"quoted\"\t\xc3\xa9 ";
  set_env("RINGPIPE_TOKEN", token.c_str());
  EXPECT_EQ(Options::from_env().token, token);
  set_env("RINGPIPE_TOKEN", "");
  EXPECT_EQ(Options::from_env().token, "") << "an empty token is no token";
}

// initialize_distributed reads its tuning, the token included, through this path.
TEST_F(OptionsFromEnv, TuningFromTheEnvironmentIncludesTheToken) {
  set_env("RINGPIPE_TOKEN", "tuning-token");
  Options options;
  detail::read_tuning_from_env(options);
  EXPECT_EQ(options.token, "tuning-token");
}

// Errors name variables and values, but the token is a secret: a failing from_env() with a token
// set must not show it, whichever variable is wrong.
TEST_F(OptionsFromEnv, ErrorsNeverShowTheToken) {
  const std::string token = "tok-7f3a9c1e5b";
  set_env("RINGPIPE_TOKEN", token.c_str());
  for (const auto& [name, value] :
       {std::pair{"RINGPIPE_PORT", "x"}, std::pair{"RINGPIPE_JOB_ID", "-1"},
        std::pair{"RINGPIPE_OP_TIMEOUT_S", "0"}, std::pair{"RINGPIPE_HEAD", ""}}) {
    set_env(name, value);
    const std::string message = invalid_argument_message([] { Options::from_env(); });
    EXPECT_TRUE(contains(message, name)) << message;
    EXPECT_FALSE(contains(message, token)) << message;
    ASSERT_EQ(::unsetenv(name), 0);
  }
}

TEST_F(OptionsFromEnv, ValueEdgesAreAccepted) {
  set_env("RINGPIPE_PORT", "65535");
  set_env("RINGPIPE_WORLD_SIZE", "65536");
  set_env("RINGPIPE_RANK", "65535");
  set_env("RINGPIPE_JOB_ID", "18446744073709551615");
  set_env("RINGPIPE_RENDEZVOUS_TIMEOUT_S", "1e6");
  set_env("RINGPIPE_OP_TIMEOUT_S", "0.0001");     // rounds up, never to a zero timeout
  set_env("RINGPIPE_LIVENESS_TIMEOUT_S", "0.1");  // the shortest that still gets its beats
  set_env("RINGPIPE_IFNAME", "abcdefghijklmno");  // 15 characters
  set_env("RINGPIPE_LISTEN_FD", "0");

  const Options options = Options::from_env();
  EXPECT_EQ(options.port, 65535);
  EXPECT_EQ(options.world_size, 65536);
  EXPECT_EQ(options.rank, 65535);
  EXPECT_EQ(options.job_id, UINT64_MAX);
  EXPECT_EQ(options.op_timeout, milliseconds(1));
  EXPECT_EQ(options.rendezvous_timeout, milliseconds(1'000'000'000));
  EXPECT_EQ(options.liveness_timeout, kMinLivenessTimeout);
  EXPECT_EQ(options.ifname, "abcdefghijklmno");
  EXPECT_EQ(options.listen_fd, 0);
}

TEST_F(OptionsFromEnv, TorchrunVariablesAreRead) {
  set_env("MASTER_ADDR", "10.0.0.1");
  set_env("MASTER_PORT", "29400");
  set_env("WORLD_SIZE", "4");
  set_env("RANK", "2");
  set_env("LOCAL_RANK", "1");
  const Options options = Options::from_env();
  EXPECT_EQ(options.head, "10.0.0.1");
  EXPECT_EQ(options.port, 29401) << "MASTER_PORT itself is torch.distributed's";
  EXPECT_EQ(options.world_size, 4);
  EXPECT_EQ(options.rank, 2);
  EXPECT_EQ(options.local_rank, 1);
}

// Under torchrun, torchrun's agent and then rank 0's init_process_group listen on MASTER_PORT;
// the ring takes the next port, which every rank derives alone.
TEST_F(OptionsFromEnv, MasterPortAloneGivesTheNextPort) {
  set_env("MASTER_PORT", "29500");
  const Options options = Options::from_env();
  EXPECT_EQ(options.port, 29501);
  EXPECT_EQ(options.port_origin, "MASTER_PORT=29500 + 1");
}

TEST_F(OptionsFromEnv, RingpipePortWinsOverMasterPortAsItIs) {
  set_env("MASTER_PORT", "29500");
  set_env("RINGPIPE_PORT", "29500");
  const Options options = Options::from_env();
  EXPECT_EQ(options.port, 29500);
  EXPECT_EQ(options.port_origin, "RINGPIPE_PORT=29500");
}

TEST_F(OptionsFromEnv, RingpipePortWinsOverAMasterPortWithoutANextPort) {
  set_env("MASTER_PORT", "65535");
  set_env("RINGPIPE_PORT", "4000");
  EXPECT_EQ(Options::from_env().port, 4000);
}

TEST_F(OptionsFromEnv, MasterPortWithoutANextPortIsInvalidArgument) {
  for (const char* value : {"65535", "0"}) {
    set_env("MASTER_PORT", value);
    const std::string message = invalid_argument_message([] { Options::from_env(); });
    EXPECT_TRUE(contains(message, std::string("MASTER_PORT=\"") + value + "\"")) << message;
    EXPECT_TRUE(contains(message, "1..65534")) << message;
    EXPECT_TRUE(contains(message, "RINGPIPE_PORT")) << message;
  }
}

TEST_F(OptionsFromEnv, PortSetByNoVariableHasNoOrigin) {
  EXPECT_EQ(Options::from_env().port_origin, "");
}

TEST_F(OptionsFromEnv, OpenMpiVariablesAreRead) {
  set_env("MASTER_PORT", "29500");  // ranks other than 0 need the head's port
  set_env("OMPI_COMM_WORLD_SIZE", "6");
  set_env("OMPI_COMM_WORLD_RANK", "5");
  set_env("OMPI_COMM_WORLD_LOCAL_RANK", "2");
  const Options options = Options::from_env();
  EXPECT_EQ(options.world_size, 6);
  EXPECT_EQ(options.rank, 5);
  EXPECT_EQ(options.local_rank, 2);
}

TEST_F(OptionsFromEnv, SlurmVariablesAreRead) {
  set_env("MASTER_PORT", "29500");  // ranks other than 0 need the head's port
  set_env("SLURM_NTASKS", "3");
  set_env("SLURM_PROCID", "1");
  set_env("SLURM_LOCALID", "1");
  const Options options = Options::from_env();
  EXPECT_EQ(options.world_size, 3);
  EXPECT_EQ(options.rank, 1);
  EXPECT_EQ(options.local_rank, 1);
}

TEST_F(OptionsFromEnv, RingpipeRankBeatsTorchrunRank) {
  set_env("MASTER_PORT", "29500");  // ranks other than 0 need the head's port
  set_env("WORLD_SIZE", "16");
  set_env("RINGPIPE_RANK", "1");
  set_env("RANK", "2");
  set_env("OMPI_COMM_WORLD_RANK", "3");
  set_env("SLURM_PROCID", "4");
  EXPECT_EQ(Options::from_env().rank, 1);
}

TEST_F(OptionsFromEnv, TorchrunRankBeatsOpenMpiRank) {
  set_env("MASTER_PORT", "29500");  // ranks other than 0 need the head's port
  set_env("WORLD_SIZE", "16");
  set_env("RANK", "2");
  set_env("OMPI_COMM_WORLD_RANK", "3");
  set_env("SLURM_PROCID", "4");
  EXPECT_EQ(Options::from_env().rank, 2);
}

TEST_F(OptionsFromEnv, OpenMpiRankBeatsSlurmRank) {
  set_env("MASTER_PORT", "29500");  // ranks other than 0 need the head's port
  set_env("WORLD_SIZE", "16");
  set_env("OMPI_COMM_WORLD_RANK", "3");
  set_env("SLURM_PROCID", "4");
  EXPECT_EQ(Options::from_env().rank, 3);
}

TEST_F(OptionsFromEnv, RankOtherThanZeroWithoutAPortIsInvalidArgument) {
  set_env("RINGPIPE_WORLD_SIZE", "2");
  set_env("RINGPIPE_RANK", "1");
  try {
    (void)Options::from_env();
    ADD_FAILURE() << "rank 1 without a rendezvous port was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::InvalidArgument);
    EXPECT_NE(std::string(error.what()).find("port 0"), std::string::npos) << error.what();
  }
}

TEST_F(OptionsFromEnv, PrecedenceHoldsForEveryLauncherField) {
  set_env("RINGPIPE_HEAD", "ring-head");
  set_env("MASTER_ADDR", "torch-head");
  set_env("RINGPIPE_PORT", "1000");
  set_env("MASTER_PORT", "2000");
  set_env("RINGPIPE_WORLD_SIZE", "10");
  set_env("WORLD_SIZE", "20");
  set_env("OMPI_COMM_WORLD_SIZE", "30");
  set_env("SLURM_NTASKS", "40");
  set_env("LOCAL_RANK", "5");
  set_env("OMPI_COMM_WORLD_LOCAL_RANK", "6");
  set_env("SLURM_LOCALID", "7");
  const Options options = Options::from_env();
  EXPECT_EQ(options.head, "ring-head");
  EXPECT_EQ(options.port, 1000);
  EXPECT_EQ(options.world_size, 10);
  EXPECT_EQ(options.local_rank, 5);
}

TEST_F(OptionsFromEnv, MalformedHigherPrecedenceVariableIsAnErrorNotSkipped) {
  set_env("RINGPIPE_RANK", "x");
  set_env("RANK", "0");
  const std::string message = invalid_argument_message([] { Options::from_env(); });
  EXPECT_TRUE(contains(message, "RINGPIPE_RANK=\"x\"")) << message;
}

TEST_F(OptionsFromEnv, RankAtWorldSizeNamesBothVariables) {
  set_env("WORLD_SIZE", "4");
  set_env("RANK", "4");
  const std::string message = invalid_argument_message([] { Options::from_env(); });
  EXPECT_TRUE(contains(message, "RANK=\"4\"")) << message;
  EXPECT_TRUE(contains(message, "WORLD_SIZE=\"4\"")) << message;
  EXPECT_TRUE(contains(message, "0..3")) << message;
}

TEST_F(OptionsFromEnv, RankWithoutWorldSizeSaysTheWorldSizeIsTheDefault) {
  set_env("SLURM_PROCID", "1");
  const std::string message = invalid_argument_message([] { Options::from_env(); });
  EXPECT_TRUE(contains(message, "SLURM_PROCID=\"1\"")) << message;
  EXPECT_TRUE(contains(message, "default world size 1")) << message;
}

TEST(OptionsValidate, DefaultsAreValid) { EXPECT_NO_THROW(Options{}.validate()); }

TEST(OptionsValidate, RankAtWorldSizeNamesRankAndValidRange) {
  Options options;
  options.world_size = 4;
  options.rank = 4;
  const std::string message = invalid_argument_message([&] { options.validate(); });
  EXPECT_TRUE(contains(message, "rank 4 is out of range for world size 4 (valid: 0..3)"))
      << message;
}

TEST(OptionsValidate, EachInconsistentFieldIsRejectedByName) {
  struct Case {
    const char* field;
    std::function<void(Options&)> break_it;
  };
  const Case cases[] = {
      {"world size 0", [](Options& o) { o.world_size = 0; }},
      {"rank -1", [](Options& o) { o.rank = -1; }},
      {"local rank -2", [](Options& o) { o.local_rank = -2; }},
      {"head", [](Options& o) { o.head.clear(); }},
      {"rendezvous_timeout 0", [](Options& o) { o.rendezvous_timeout = milliseconds(0); }},
      {"op_timeout -1", [](Options& o) { o.op_timeout = milliseconds(-1); }},
      {"liveness_timeout 0", [](Options& o) { o.liveness_timeout = milliseconds(0); }},
      {"liveness_timeout 79 ms is below the minimum of 100 ms",
       [](Options& o) { o.liveness_timeout = milliseconds(79); }},
      {"listen_fd -2", [](Options& o) { o.listen_fd = -2; }},
      {"registered_min_bytes and single_copy_min_bytes must be at least 1",
       [](Options& o) { o.registered_min_bytes = 0; }},
      {"single_copy_max_bytes (RINGPIPE_SINGLE_COPY_MAX_BYTES) 65536 is below "
       "single_copy_min_bytes (RINGPIPE_SINGLE_COPY_MIN_BYTES) 1048576",
       [](Options& o) { o.single_copy_max_bytes = 65536; }},
  };
  for (const Case& c : cases) {
    Options options;
    c.break_it(options);
    const std::string message = invalid_argument_message([&] { options.validate(); });
    EXPECT_TRUE(contains(message, c.field)) << message;
  }
}

TEST(OptionsValidate, InfiniteTimeoutsAndListenFdAreValid) {
  Options options;
  options.op_timeout = kInfinite;
  options.rendezvous_timeout = kInfinite;
  options.liveness_timeout = kInfinite;
  options.listen_fd = 3;
  EXPECT_NO_THROW(options.validate());
}

}  // namespace
}  // namespace ringpipe
