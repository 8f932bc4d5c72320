// Unit tests of Options: names of enums, environment parsing, precedence and validation.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/request.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringpipe {
namespace {

using std::chrono::milliseconds;

// Every variable from_env() reads. Tests start with all of them unset, whatever the launcher
// running the tests (torchrun, mpirun, srun) exported.
constexpr const char* kEnvVars[] = {
    "RINGPIPE_HEAD",
    "MASTER_ADDR",
    "RINGPIPE_PORT",
    "MASTER_PORT",
    "RINGPIPE_WORLD_SIZE",
    "WORLD_SIZE",
    "OMPI_COMM_WORLD_SIZE",
    "SLURM_NTASKS",
    "RINGPIPE_RANK",
    "RANK",
    "OMPI_COMM_WORLD_RANK",
    "SLURM_PROCID",
    "RINGPIPE_LOCAL_RANK",
    "LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "SLURM_LOCALID",
    "RINGPIPE_COMM_DEVICE",
    "RINGPIPE_RENDEZVOUS_TIMEOUT_S",
    "RINGPIPE_OP_TIMEOUT_S",
    "RINGPIPE_LIVENESS_TIMEOUT_S",
    "RINGPIPE_PROGRESS",
    "RINGPIPE_IFNAME",
    "RINGPIPE_JOB_ID",
    "RINGPIPE_LISTEN_FD",
};

// Saves and clears the variables above; restores them when destroyed.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : kEnvVars) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name,
                          value != nullptr ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

void set_env(const char* name, const char* value) { ASSERT_EQ(::setenv(name, value, 1), 0); }

// Runs `fn`, expects Error{InvalidArgument} and returns its what() ("" if none was thrown).
std::string invalid_argument_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected Error{InvalidArgument}, nothing was thrown";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class OptionsFromEnv : public ::testing::Test {
 protected:
  void SetUp() override { guard_.emplace(); }
  void TearDown() override { guard_.reset(); }

 private:
  std::optional<EnvGuard> guard_;
};

TEST(OptionsNames, ToStringNamesEveryEnumerator) {
  EXPECT_EQ(to_string(CommDevice::Cpu), "cpu");
  EXPECT_EQ(to_string(CommDevice::Gpu), "gpu");
  EXPECT_EQ(to_string(ProgressMode::BusyPoll), "busy");
  EXPECT_EQ(to_string(ProgressMode::Blocking), "blocking");
  EXPECT_EQ(to_string(ProgressMode::Adaptive), "adaptive");
}

TEST(OptionsNames, ParseRoundTripsToStringAndIgnoresCase) {
  for (CommDevice device : {CommDevice::Cpu, CommDevice::Gpu}) {
    EXPECT_EQ(parse_comm_device(to_string(device), "x"), device);
  }
  for (ProgressMode mode :
       {ProgressMode::BusyPoll, ProgressMode::Blocking, ProgressMode::Adaptive}) {
    EXPECT_EQ(parse_progress_mode(to_string(mode), "x"), mode);
  }
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
}

TEST_F(OptionsFromEnv, ValueEdgesAreAccepted) {
  set_env("RINGPIPE_PORT", "65535");
  set_env("RINGPIPE_WORLD_SIZE", "65536");
  set_env("RINGPIPE_RANK", "65535");
  set_env("RINGPIPE_JOB_ID", "18446744073709551615");
  set_env("RINGPIPE_OP_TIMEOUT_S", "infinite");
  set_env("RINGPIPE_RENDEZVOUS_TIMEOUT_S", "1e6");
  set_env("RINGPIPE_LIVENESS_TIMEOUT_S", "0.0001");  // rounds up, never to a zero timeout
  set_env("RINGPIPE_IFNAME", "abcdefghijklmno");     // 15 characters
  set_env("RINGPIPE_LISTEN_FD", "0");

  const Options options = Options::from_env();
  EXPECT_EQ(options.port, 65535);
  EXPECT_EQ(options.world_size, 65536);
  EXPECT_EQ(options.rank, 65535);
  EXPECT_EQ(options.job_id, UINT64_MAX);
  EXPECT_EQ(options.op_timeout, kInfinite);
  EXPECT_EQ(options.rendezvous_timeout, milliseconds(1'000'000'000));
  EXPECT_EQ(options.liveness_timeout, milliseconds(1));
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
  EXPECT_EQ(options.port, 29400);
  EXPECT_EQ(options.world_size, 4);
  EXPECT_EQ(options.rank, 2);
  EXPECT_EQ(options.local_rank, 1);
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

// One malformed value: from_env() must throw InvalidArgument naming the variable and the value.
struct BadValue {
  const char* test_name;
  const char* variable;
  const char* value;
};

class OptionsFromEnvBadValue : public OptionsFromEnv,
                               public ::testing::WithParamInterface<BadValue> {};

TEST_P(OptionsFromEnvBadValue, ThrowsInvalidArgumentNamingVariableAndValue) {
  const BadValue& bad = GetParam();
  set_env(bad.variable, bad.value);
  const std::string message = invalid_argument_message([] { Options::from_env(); });
  EXPECT_TRUE(contains(message, bad.variable)) << message;
  EXPECT_TRUE(contains(message, std::string("\"") + bad.value + "\"")) << message;
}

constexpr BadValue kBadValues[] = {
    {"RankNonNumber", "RANK", "abc"},
    {"RankTrailingGarbage", "RANK", "1x"},
    {"RankTrailingSpace", "RANK", "1 "},
    {"RankLeadingSpace", "RANK", " 1"},
    {"RankNegative", "RINGPIPE_RANK", "-1"},
    {"RankNegativeZero", "RINGPIPE_RANK", "-0"},
    {"RankPlusSign", "RINGPIPE_RANK", "+0"},
    {"RankOverflowsInt", "OMPI_COMM_WORLD_RANK", "2147483648"},
    {"RankOverflowsU64", "SLURM_PROCID", "99999999999999999999999"},
    {"RankEmpty", "RANK", ""},
    {"RankHex", "RANK", "0x1"},
    {"RankFractional", "RANK", "1.0"},
    {"WorldSizeZero", "WORLD_SIZE", "0"},
    {"WorldSizeTooLarge", "RINGPIPE_WORLD_SIZE", "65537"},
    {"WorldSizeEmpty", "SLURM_NTASKS", ""},
    {"WorldSizeNegative", "OMPI_COMM_WORLD_SIZE", "-4"},
    {"LocalRankNegative", "LOCAL_RANK", "-1"},
    {"LocalRankNonNumber", "SLURM_LOCALID", "zero"},
    {"PortTooLarge", "MASTER_PORT", "65536"},
    {"PortNegative", "RINGPIPE_PORT", "-1"},
    {"PortEmpty", "MASTER_PORT", ""},
    {"PortTrailingGarbage", "RINGPIPE_PORT", "80http"},
    {"HeadEmpty", "MASTER_ADDR", ""},
    {"HeadWithSpace", "RINGPIPE_HEAD", "node 0"},
    {"DeviceUnknown", "RINGPIPE_COMM_DEVICE", "tpu"},
    {"DeviceEmpty", "RINGPIPE_COMM_DEVICE", ""},
    {"ProgressUnknown", "RINGPIPE_PROGRESS", "sleepy"},
    {"ProgressEmpty", "RINGPIPE_PROGRESS", ""},
    {"TimeoutZero", "RINGPIPE_OP_TIMEOUT_S", "0"},
    {"TimeoutZeroFraction", "RINGPIPE_OP_TIMEOUT_S", "0.0"},
    {"TimeoutNegative", "RINGPIPE_RENDEZVOUS_TIMEOUT_S", "-1"},
    {"TimeoutNan", "RINGPIPE_LIVENESS_TIMEOUT_S", "nan"},
    {"TimeoutTooLarge", "RINGPIPE_OP_TIMEOUT_S", "1000001"},
    {"TimeoutOverflow", "RINGPIPE_OP_TIMEOUT_S", "1e999"},
    {"TimeoutTrailingUnit", "RINGPIPE_OP_TIMEOUT_S", "30s"},
    {"TimeoutEmpty", "RINGPIPE_LIVENESS_TIMEOUT_S", ""},
    {"TimeoutNegativeInf", "RINGPIPE_OP_TIMEOUT_S", "-inf"},
    {"IfnameEmpty", "RINGPIPE_IFNAME", ""},
    {"IfnameTooLong", "RINGPIPE_IFNAME", "abcdefghijklmnop"},
    {"IfnameWithSlash", "RINGPIPE_IFNAME", "eth/0"},
    {"IfnameWithSpace", "RINGPIPE_IFNAME", "eth 0"},
    {"JobIdNonNumber", "RINGPIPE_JOB_ID", "job7"},
    {"JobIdNegative", "RINGPIPE_JOB_ID", "-1"},
    {"JobIdOverflow", "RINGPIPE_JOB_ID", "18446744073709551616"},
    {"JobIdHexOverflow", "RINGPIPE_JOB_ID", "0x10000000000000000"},
    {"JobIdBareHexPrefix", "RINGPIPE_JOB_ID", "0x"},
    {"JobIdBadHexDigit", "RINGPIPE_JOB_ID", "0xfg"},
    {"JobIdEmpty", "RINGPIPE_JOB_ID", ""},
    {"ListenFdNegative", "RINGPIPE_LISTEN_FD", "-1"},
    {"ListenFdNonNumber", "RINGPIPE_LISTEN_FD", "stdin"},
};

INSTANTIATE_TEST_SUITE_P(EveryBadValueClass, OptionsFromEnvBadValue,
                         ::testing::ValuesIn(kBadValues),
                         [](const ::testing::TestParamInfo<BadValue>& param_info) {
                           return std::string(param_info.param.test_name);
                         });

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
      {"listen_fd -2", [](Options& o) { o.listen_fd = -2; }},
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
