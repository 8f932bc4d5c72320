// Test helpers of Options::from_env(): a guard that starts every test with the variables it reads
// unset and restores them afterwards, and the fixture that holds one.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringpipe::test {

// Every variable from_env() reads. Tests start with all of them unset, whatever the launcher
// running the tests (torchrun, mpirun, srun) exported.
inline constexpr const char* kEnvVars[] = {
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
    "OMPI_MCA_ess_base_jobid",
    "PMIX_NAMESPACE",
    "OMPI_MCA_orte_num_nodes",
    "RINGPIPE_COMM_DEVICE",
    "RINGPIPE_RENDEZVOUS_TIMEOUT_S",
    "RINGPIPE_OP_TIMEOUT_S",
    "RINGPIPE_LIVENESS_TIMEOUT_S",
    "RINGPIPE_PROGRESS",
    "RINGPIPE_GPU_TRANSPORT",
    "RINGPIPE_REQUIRE_FAST_PATH",
    "RINGPIPE_GPU_COPY_KERNEL",
    "RINGPIPE_SINGLE_COPY",
    "RINGPIPE_REGISTERED_MIN_BYTES",
    "RINGPIPE_SINGLE_COPY_MIN_BYTES",
    "RINGPIPE_SINGLE_COPY_MAX_BYTES",
    "RINGPIPE_IFNAME",
    "RINGPIPE_JOB_ID",
    "RINGPIPE_TOKEN",
    "RINGPIPE_LISTEN_FD",
    "RINGPIPE_LOG",
    "RINGPIPE_LOG_LEVEL",
    "RINGPIPE_LOG_FILE",
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

inline void set_env(const char* name, const char* value) { ASSERT_EQ(::setenv(name, value, 1), 0); }

// Every test of it runs with the variables of kEnvVars unset.
class OptionsFromEnv : public ::testing::Test {
 protected:
  void SetUp() override { guard_.emplace(); }
  void TearDown() override { guard_.reset(); }

 private:
  std::optional<EnvGuard> guard_;
};

}  // namespace ringpipe::test
