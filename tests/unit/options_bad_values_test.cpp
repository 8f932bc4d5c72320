// Unit tests of Options::from_env(): every class of malformed value is rejected with
// Error{InvalidArgument} naming the variable and the value.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "env_guard.hpp"
#include "invalid_argument.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringpipe {
namespace {

using test::contains;
using test::invalid_argument_message;
using test::OptionsFromEnv;
using test::set_env;

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
    {"GpuTransportUnknown", "RINGPIPE_GPU_TRANSPORT", "gloo"},
    {"FastPathNotAFlag", "RINGPIPE_REQUIRE_FAST_PATH", "maybe"},
    {"FastPathEmpty", "RINGPIPE_REQUIRE_FAST_PATH", ""},
    {"CopyKernelNotAFlag", "RINGPIPE_GPU_COPY_KERNEL", "sometimes"},
    {"SingleCopyNotAFlag", "RINGPIPE_SINGLE_COPY", "maybe"},
    {"RegisteredMinZero", "RINGPIPE_REGISTERED_MIN_BYTES", "0"},
    {"SingleCopyMinUnknownUnit", "RINGPIPE_SINGLE_COPY_MIN_BYTES", "1T"},
    {"SingleCopyMaxNegative", "RINGPIPE_SINGLE_COPY_MAX_BYTES", "-1"},
    {"SingleCopyMaxTooLarge", "RINGPIPE_SINGLE_COPY_MAX_BYTES", "99999999G"},
    {"TimeoutZero", "RINGPIPE_OP_TIMEOUT_S", "0"},
    {"TimeoutZeroFraction", "RINGPIPE_OP_TIMEOUT_S", "0.0"},
    {"TimeoutNegative", "RINGPIPE_RENDEZVOUS_TIMEOUT_S", "-1"},
    {"TimeoutNan", "RINGPIPE_LIVENESS_TIMEOUT_S", "nan"},
    {"TimeoutTooLarge", "RINGPIPE_OP_TIMEOUT_S", "1000001"},
    {"TimeoutOverflow", "RINGPIPE_OP_TIMEOUT_S", "1e999"},
    {"TimeoutTrailingUnit", "RINGPIPE_OP_TIMEOUT_S", "30s"},
    {"TimeoutEmpty", "RINGPIPE_LIVENESS_TIMEOUT_S", ""},
    {"LivenessTimeoutBelowItsBeats", "RINGPIPE_LIVENESS_TIMEOUT_S", "0.05"},
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
    {"LogLevelUnknown", "RINGPIPE_LOG", "verbose"},
    {"LogLevelEmpty", "RINGPIPE_LOG_LEVEL", ""},
    {"LogFileInAMissingFolder", "RINGPIPE_LOG_FILE", "/nonexistent/ringpipe-%p.log"},
};

INSTANTIATE_TEST_SUITE_P(EveryBadValueClass, OptionsFromEnvBadValue,
                         ::testing::ValuesIn(kBadValues),
                         [](const ::testing::TestParamInfo<BadValue>& param_info) {
                           return std::string(param_info.param.test_name);
                         });

}  // namespace
}  // namespace ringpipe
