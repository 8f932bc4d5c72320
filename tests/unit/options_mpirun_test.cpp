// Options::from_env() under Open MPI's mpirun, which names no head address and no port: every
// rank derives the same port from the job id, and a job on several hosts without a head address
// fails at once instead of waiting for a rendezvous that never comes.
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

// What Open MPI 4.1's mpirun gives rank `rank` of a job of 3 on one host.
void set_mpirun_env(const char* rank, const char* job_id = "1773076481") {
  set_env("OMPI_COMM_WORLD_SIZE", "3");
  set_env("OMPI_COMM_WORLD_RANK", rank);
  set_env("OMPI_COMM_WORLD_LOCAL_RANK", rank);
  set_env("OMPI_MCA_ess_base_jobid", job_id);
  set_env("PMIX_NAMESPACE", job_id);
  set_env("OMPI_MCA_orte_num_nodes", "1");
}

TEST_F(OptionsFromEnv, MpirunRanksDeriveOneUnprivilegedPortFromTheJobId) {
  set_mpirun_env("0");
  const Options rank0 = Options::from_env();
  set_mpirun_env("2");
  const Options rank2 = Options::from_env();
  EXPECT_EQ(rank0.port, rank2.port);
  EXPECT_GE(rank0.port, 20000);
  EXPECT_LT(rank0.port, 32768) << "Linux's ephemeral ports start at 32768";
  EXPECT_EQ(rank0.port_origin, "Open MPI's job id OMPI_MCA_ess_base_jobid=\"1773076481\"");
  EXPECT_EQ(rank2.rank, 2);
  EXPECT_EQ(rank2.world_size, 3);
  EXPECT_EQ(rank0.head, "127.0.0.1");
}

TEST_F(OptionsFromEnv, ConcurrentMpirunJobsGetDifferentPorts) {
  set_mpirun_env("0", "1773076481");
  const std::uint16_t first = Options::from_env().port;
  set_mpirun_env("0", "1773076482");
  EXPECT_NE(Options::from_env().port, first);
}

// Open MPI 5 (PRRTE) has no OMPI_MCA_ess_base_jobid; its namespace names the job.
TEST_F(OptionsFromEnv, MpirunWithoutAJobIdVariableUsesThePmixNamespace) {
  set_mpirun_env("1");
  ::unsetenv("OMPI_MCA_ess_base_jobid");
  set_env("PMIX_NAMESPACE", "prterun-host-4242@1");
  const Options options = Options::from_env();
  EXPECT_NE(options.port, 0);
  EXPECT_TRUE(contains(options.port_origin, "PMIX_NAMESPACE")) << options.port_origin;
}

TEST_F(OptionsFromEnv, AGivenPortWinsOverTheJobId) {
  set_mpirun_env("1");
  set_env("MASTER_PORT", "29500");
  EXPECT_EQ(Options::from_env().port, 29501);
  set_env("RINGPIPE_PORT", "4000");
  EXPECT_EQ(Options::from_env().port, 4000);
}

// A PMIx namespace alone (Slurm's srun --mpi=pmix) is no Open MPI job: no port is made up.
TEST_F(OptionsFromEnv, APmixNamespaceWithoutOpenMpiGivesNoPort) {
  set_env("PMIX_NAMESPACE", "slurm.pmix.77.0");
  EXPECT_EQ(Options::from_env().port, 0);
}

TEST_F(OptionsFromEnv, MpirunOnSeveralHostsWithoutAHeadIsInvalidArgument) {
  set_mpirun_env("1");
  set_env("OMPI_MCA_orte_num_nodes", "2");
  const std::string message = invalid_argument_message([] { Options::from_env(); });
  EXPECT_TRUE(contains(message, "OMPI_MCA_orte_num_nodes=\"2\"")) << message;
  EXPECT_TRUE(contains(message, "RINGPIPE_HEAD")) << message;
}

TEST_F(OptionsFromEnv, MpirunOnSeveralHostsTakesTheHeadGiven) {
  set_mpirun_env("1");
  set_env("OMPI_MCA_orte_num_nodes", "2");
  set_env("RINGPIPE_HEAD", "10.0.0.1");
  EXPECT_EQ(Options::from_env().head, "10.0.0.1");
}

}  // namespace
}  // namespace ringpipe
