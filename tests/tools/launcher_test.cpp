// ringpipe-run tests: run the real launcher on small shell programs and check what ranks see.
//
// The launcher is started by launch() (tests/tools/launch_helpers.hpp). This file also holds the
// binary's main, which doubles as the rank program of ListenSocketOnlyForRankZero and
// MasterPortIsHeldForTorchsStoreInRankZero.
#include "launch_helpers.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ringpipe::test::eventually_gone;
using ringpipe::test::launch;
using ringpipe::test::launch_sh;
using ringpipe::test::LaunchOptions;
using ringpipe::test::LaunchResult;
using ringpipe::test::lines_of;
using ringpipe::test::parse_rank_fields;
using ringpipe::test::self_exe;

constexpr std::string_view kCheckListenMode = "--child-mode=check-listen";
constexpr std::string_view kCheckMasterPortMode = "--child-mode=check-master-port";

TEST(Launcher, AllRanksSucceed) {
  const LaunchResult r =
      launch_sh({"-n", "4"}, "echo \"hello $RINGPIPE_RANK $RINGPIPE_WORLD_SIZE\"");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_NE(r.out.find("[" + std::to_string(rank) + "] hello " + std::to_string(rank) + " 4\n"),
              std::string::npos)
        << r.out;
  }
  EXPECT_EQ(lines_of(r.out).size(), 4u) << r.out;
}

TEST(Launcher, SixtyFourRanksAllRunAndReport) {
  const LaunchResult r = launch_sh({"-n", "64"}, "echo \"r$RINGPIPE_RANK\"");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (int rank = 0; rank < 64; ++rank) {
    const std::string id = std::to_string(rank);
    EXPECT_NE(r.out.find("[" + id + "] r" + id + "\n"), std::string::npos) << id;
  }
}

TEST(Launcher, EveryRankSeesItsPlaceInTheRingAndNoForeignLauncherVariables) {
  LaunchOptions options;
  options.set_env = {
      {"RANK", "99"},        {"MASTER_ADDR", "10.0.0.1"},  {"OMPI_COMM_WORLD_RANK", "5"},
      {"SLURM_PROCID", "7"}, {"RINGPIPE_LISTEN_FD", "77"}, {"RINGPIPE_KEEP_ME", "yes"}};
  const LaunchResult r = launch_sh(
      {"-n", "3", "--comm-device", "gpu"},
      "echo rank=$RINGPIPE_RANK ws=$RINGPIPE_WORLD_SIZE local=$RINGPIPE_LOCAL_RANK "
      "head=$RINGPIPE_HEAD port=$RINGPIPE_PORT job=$RINGPIPE_JOB_ID token=$RINGPIPE_TOKEN "
      "dev=$RINGPIPE_COMM_DEVICE listen=${RINGPIPE_LISTEN_FD-unset} torch_rank=${RANK-unset} "
      "master=${MASTER_ADDR-unset} ompi=${OMPI_COMM_WORLD_RANK-unset} "
      "slurm=${SLURM_PROCID-unset} keep=${RINGPIPE_KEEP_ME-unset}",
      options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ranks = parse_rank_fields(r.out);
  ASSERT_EQ(ranks.size(), 3u) << r.out;
  const auto& first = ranks.at(0);
  EXPECT_NE(first.at("port"), "0");
  EXPECT_GT(std::stoi(first.at("port")), 0);
  EXPECT_FALSE(first.at("job").empty());
  EXPECT_EQ(first.at("token").size(), 64u);
  EXPECT_EQ(first.at("token").find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(first.at("listen"), "unset");
  EXPECT_NE(first.at("listen"), "77");
  for (const auto& [rank, fields] : ranks) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    EXPECT_EQ(fields.at("rank"), std::to_string(rank));
    EXPECT_EQ(fields.at("local"), std::to_string(rank));
    EXPECT_EQ(fields.at("ws"), "3");
    EXPECT_EQ(fields.at("head"), "127.0.0.1");
    EXPECT_EQ(fields.at("dev"), "gpu");
    EXPECT_EQ(fields.at("port"), first.at("port"));
    EXPECT_EQ(fields.at("job"), first.at("job"));
    EXPECT_EQ(fields.at("token"), first.at("token"));
    EXPECT_EQ(fields.at("torch_rank"), std::to_string(rank)) << "the launcher's own RANK";
    EXPECT_EQ(fields.at("master"), "127.0.0.1") << "the launcher's own MASTER_ADDR";
    EXPECT_EQ(fields.at("ompi"), "unset");
    EXPECT_EQ(fields.at("slurm"), "unset");
    EXPECT_EQ(fields.at("keep"), "yes");
    if (rank != 0) {
      EXPECT_EQ(fields.at("listen"), "unset");
    }
  }
}

// A script that also calls torch.distributed.init_process_group (env://) joins this job: RANK,
// WORLD_SIZE, LOCAL_RANK match the ring's, and MASTER_PORT + 1 is the rendezvous port, as
// ringpipe derives it from MASTER_PORT alone. Stale values of an outer launcher are replaced.
TEST(Launcher, EveryRankSeesTorchVariablesMatchingItsRing) {
  LaunchOptions options;
  options.set_env = {{"RANK", "99"},       {"WORLD_SIZE", "100"},       {"LOCAL_RANK", "98"},
                     {"MASTER_PORT", "1"}, {"MASTER_ADDR", "10.0.0.1"}, {"LOCAL_WORLD_SIZE", "7"}};
  const LaunchResult r = launch_sh(
      {"-n", "3"},
      "echo rank=${RANK-unset} ws=${WORLD_SIZE-unset} local=${LOCAL_RANK-unset} "
      "lws=${LOCAL_WORLD_SIZE-unset} addr=${MASTER_ADDR-unset} master_port=${MASTER_PORT-unset} "
      "ringpipe_rank=$RINGPIPE_RANK ringpipe_ws=$RINGPIPE_WORLD_SIZE "
      "ringpipe_local=$RINGPIPE_LOCAL_RANK head=$RINGPIPE_HEAD port=$RINGPIPE_PORT",
      options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ranks = parse_rank_fields(r.out);
  ASSERT_EQ(ranks.size(), 3u) << r.out;
  for (const auto& [rank, fields] : ranks) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    EXPECT_EQ(fields.at("rank"), std::to_string(rank));
    EXPECT_EQ(fields.at("rank"), fields.at("ringpipe_rank"));
    EXPECT_EQ(fields.at("ws"), "3");
    EXPECT_EQ(fields.at("ws"), fields.at("ringpipe_ws"));
    EXPECT_EQ(fields.at("local"), fields.at("ringpipe_local"));
    EXPECT_EQ(fields.at("lws"), "3");
    EXPECT_EQ(fields.at("addr"), fields.at("head"));
    ASSERT_NE(fields.at("master_port"), "unset");
    EXPECT_EQ(std::stoi(fields.at("master_port")) + 1, std::stoi(fields.at("port")));
    EXPECT_EQ(fields.at("master_port"), ranks.at(0).at("master_port"));
  }
}

// The test binary re-executed as a rank (see main): MASTER_PORT stays reserved for the job, so
// a plain bind by another program fails, yet rank 0 can listen there as torch's store does
// (SO_REUSEADDR).
TEST(Launcher, MasterPortIsHeldForTorchsStoreInRankZero) {
  const LaunchResult r = launch({"-n", "1", self_exe(), std::string(kCheckMasterPortMode)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[0] master port ok"), std::string::npos) << r.out;
}

TEST(Launcher, JobsGetDistinctCredentials) {
  const std::string script = "echo port=$RINGPIPE_PORT job=$RINGPIPE_JOB_ID token=$RINGPIPE_TOKEN";
  const LaunchResult a = launch_sh({"-n", "1"}, script);
  const LaunchResult b = launch_sh({"-n", "1"}, script);
  ASSERT_EQ(a.exit_code, 0);
  ASSERT_EQ(b.exit_code, 0);
  const auto fa = parse_rank_fields(a.out).at(0);
  const auto fb = parse_rank_fields(b.out).at(0);
  EXPECT_NE(fa.at("job"), fb.at("job"));
  EXPECT_NE(fa.at("token"), fb.at("token"));
}

// A token the user set reaches every rank unchanged, so ranks started outside the launcher can
// join with it; an empty one counts as unset.
TEST(Launcher, UserTokenIsPassedToEveryRank) {
  LaunchOptions options;
  options.set_env = {{"RINGPIPE_TOKEN", "user-chosen-secret"}};
  const LaunchResult r = launch_sh({"-n", "3"}, "echo token=$RINGPIPE_TOKEN", options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ranks = parse_rank_fields(r.out);
  ASSERT_EQ(ranks.size(), 3u) << r.out;
  for (const auto& [rank, fields] : ranks) {
    EXPECT_EQ(fields.at("token"), "user-chosen-secret") << "rank " << rank;
  }

  options.set_env = {{"RINGPIPE_TOKEN", ""}};
  const LaunchResult empty = launch_sh({"-n", "2"}, "echo token=$RINGPIPE_TOKEN", options);
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  const auto generated = parse_rank_fields(empty.out);
  ASSERT_EQ(generated.size(), 2u) << empty.out;
  EXPECT_EQ(generated.at(0).at("token").size(), 64u);
  EXPECT_EQ(generated.at(0).at("token"), generated.at(1).at("token"));
}

// The test binary re-executed as a rank (see main): checks the listening socket first-hand.
TEST(Launcher, ListenSocketOnlyForRankZero) {
  const LaunchResult r = launch({"-n", "3", self_exe(), std::string(kCheckListenMode)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[0] listen fd ok\n"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("[1] no listening socket\n"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("[2] no listening socket\n"), std::string::npos) << r.out << r.err;
}

TEST(Launcher, FailingRankStopsTheJob) {
  // Rank 1 fails after the others have started background sleeps in their process groups.
  const LaunchResult r = launch_sh({"-n", "3"},
                                   "if [ \"$RINGPIPE_RANK\" = 1 ]; then sleep 1; exit 3; fi; "
                                   "sleep 60 & echo sleeper=$!; wait");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_LT(r.elapsed_s, 10);
  EXPECT_NE(r.err.find("ringpipe-run: rank 1 exited with status 3"), std::string::npos) << r.err;
  int sleepers = 0;
  for (const auto& [rank, fields] : parse_rank_fields(r.out)) {
    if (!fields.contains("sleeper")) continue;
    ++sleepers;
    EXPECT_TRUE(eventually_gone(std::stoi(fields.at("sleeper")))) << "rank " << rank;
  }
  EXPECT_EQ(sleepers, 2) << r.out;
}

TEST(Launcher, RankIgnoringTermIsKilledAfterGrace) {
  const LaunchResult r = launch_sh(
      {"-n", "2", "--grace", "0.5"},
      "if [ \"$RINGPIPE_RANK\" = 0 ]; then sleep 0.5; exit 4; fi; trap '' TERM; sleep 60");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_LT(r.elapsed_s, 5);
}

TEST(Launcher, RankKilledBySignal) {
  const LaunchResult r =
      launch_sh({"-n", "2"}, "if [ \"$RINGPIPE_RANK\" = 0 ]; then kill -9 $$; fi; sleep 60");
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_LT(r.elapsed_s, 10);
  EXPECT_NE(r.err.find("rank 0 killed by signal SIGKILL"), std::string::npos) << r.err;
}

TEST(Launcher, ForwardsSigtermToRanks) {
  LaunchOptions options;
  bool sent = false;
  options.on_output = [&sent](pid_t launcher, const std::string& out) {
    if (!sent && out.find("[0] ready") != std::string::npos &&
        out.find("[1] ready") != std::string::npos) {
      ::kill(launcher, SIGTERM);
      sent = true;
    }
  };
  const LaunchResult r = launch_sh(
      {"-n", "2"}, "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done",
      options);
  ASSERT_TRUE(sent) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_LT(r.elapsed_s, 5);
  EXPECT_NE(r.out.find("[0] got TERM\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1] got TERM\n"), std::string::npos) << r.out;
}

TEST(Launcher, RanksDieWithAKilledLauncher) {
  LaunchOptions options;
  std::vector<pid_t> ranks;
  options.on_output = [&ranks](pid_t launcher, const std::string& out) {
    if (!ranks.empty()) return;
    const auto fields = parse_rank_fields(out);
    if (fields.size() < 2) return;
    for (const auto& [rank, values] : fields) ranks.push_back(std::stoi(values.at("pid")));
    ::kill(launcher, SIGKILL);  // no chance to forward anything
  };
  // `exec` makes the shell's pid the rank's: the process the launcher started.
  const LaunchResult r = launch_sh({"-n", "2"}, "echo pid=$$; exec sleep 60", options);
  ASSERT_EQ(ranks.size(), 2u) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  for (const pid_t pid : ranks) EXPECT_TRUE(eventually_gone(pid)) << "rank pid " << pid;
}

TEST(Launcher, PartialLastLine) {
  const LaunchResult r = launch_sh({"-n", "2"}, "echo whole; printf \"tail $RINGPIPE_RANK\"");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[0] tail 0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1] tail 1\n"), std::string::npos) << r.out;
}

TEST(Launcher, StderrStaysOnStderr) {
  const LaunchResult r = launch_sh({"-n", "2"}, "echo to-out; echo to-err >&2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[1] to-out\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[1] to-err\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("to-err"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("to-out"), std::string::npos) << r.err;
}

TEST(Launcher, LongLinesAreChunked) {
  constexpr std::size_t kLength = 150000;
  const LaunchResult r = launch_sh({"-n", "1"}, "head -c " + std::to_string(kLength) +
                                                    " /dev/zero | tr '\\000' x; echo; echo end");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::size_t payload = 0;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 3u);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    ASSERT_TRUE(lines[i].starts_with("[0] ")) << i;
    const std::size_t length = lines[i].size() - 4;
    EXPECT_LE(length, 64u * 1024);
    EXPECT_EQ(lines[i].find_first_not_of('x', 4), std::string::npos) << i;
    payload += length;
  }
  EXPECT_EQ(payload, kLength);
  EXPECT_EQ(lines.back(), "[0] end");
}

TEST(Launcher, ProgramArgumentsPassThrough) {
  const LaunchResult r =
      launch({"-n", "1", "--", "/bin/sh", "-c", "echo \"$1 $2\"", "sh", "-n", "--grace"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[0] -n --grace\n");
}

TEST(Launcher, MissingProgram) {
  const LaunchResult r = launch({"-n", "2", "/nonexistent/ringpipe-no-such-program"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("cannot run /nonexistent/ringpipe-no-such-program: No such file"),
            std::string::npos)
      << r.err;
}

TEST(Launcher, Help) {
  const LaunchResult r = launch({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: ringpipe-run"), std::string::npos) << r.out;
}

struct BadArgs {
  std::vector<std::string> args;
  std::string message;
};

class LauncherBadArgs : public testing::TestWithParam<BadArgs> {};

TEST_P(LauncherBadArgs, ExitsWithUsage) {
  const LaunchResult r = launch(GetParam().args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Usage: ringpipe-run"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    All, LauncherBadArgs,
    testing::Values(BadArgs{{}, "missing -n"}, BadArgs{{"true"}, "missing -n"},
                    BadArgs{{"-n", "0", "true"}, "-n expects an integer from 1 to 1024, got '0'"},
                    BadArgs{{"-n", "abc", "true"}, "got 'abc'"},
                    BadArgs{{"-n", "1025", "true"}, "got '1025'"},
                    BadArgs{{"-n", "2x", "true"}, "got '2x'"}, BadArgs{{"-n"}, "-n needs a value"},
                    BadArgs{{"-n", "2"}, "missing program"},
                    BadArgs{{"-n", "2", "--"}, "missing program"},
                    BadArgs{{"-n", "2", "--comm-device", "tpu", "true"},
                            "--comm-device must be cpu or gpu, got 'tpu'"},
                    BadArgs{{"-n", "2", "--grace", "-1", "true"}, "--grace expects"},
                    BadArgs{{"-n", "2", "--bogus", "true"}, "unknown option '--bogus'"}));

bool is_listening_socket(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int listening = 0;
  socklen_t length = sizeof(listening);
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening;
}

// Rank side of ListenSocketOnlyForRankZero. Rank 0 must hold exactly the advertised listening
// socket at RINGPIPE_LISTEN_FD; other ranks must hold no listening socket at all.
int check_listen_child() {
  const char* rank_text = std::getenv("RINGPIPE_RANK");
  const char* port_text = std::getenv("RINGPIPE_PORT");
  const char* fd_text = std::getenv("RINGPIPE_LISTEN_FD");
  if (rank_text == nullptr || port_text == nullptr) return 10;
  std::set<int> listening;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const int fd = std::atoi(entry->d_name);
      if (fd != ::dirfd(dir) && is_listening_socket(fd)) listening.insert(fd);
    }
    ::closedir(dir);
  }
  if (std::string_view(rank_text) != "0") {
    if (fd_text != nullptr || !listening.empty()) {
      std::printf("unexpected listening socket\n");
      return 11;
    }
    std::printf("no listening socket\n");
    return 0;
  }
  if (fd_text == nullptr) return 12;
  const int fd = std::atoi(fd_text);
  if (listening != std::set<int>{fd}) {
    std::printf("listening sockets do not match RINGPIPE_LISTEN_FD=%d\n", fd);
    return 13;
  }
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      address.sin_family != AF_INET || address.sin_addr.s_addr != htonl(INADDR_LOOPBACK) ||
      ntohs(address.sin_port) != std::atoi(port_text)) {
    std::printf("listen fd is not bound to 127.0.0.1:%s\n", port_text);
    return 14;
  }
  // A connection to the advertised port must arrive on this very socket.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 15;
  const int accepted = ::accept(fd, nullptr, nullptr);
  if (accepted < 0) return 16;
  ::close(accepted);
  ::close(client);
  std::printf("listen fd ok\n");
  return 0;
}

// A TCP socket on 0.0.0.0:`port`, with or without SO_REUSEADDR; -1 if bind or listen failed.
int bind_any(int port, bool reuse_address, bool listening) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  if (reuse_address) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      (listening && ::listen(fd, SOMAXCONN) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Rank side of MasterPortIsHeldForTorchsStoreInRankZero.
int check_master_port_child() {
  const char* master_text = std::getenv("MASTER_PORT");
  if (master_text == nullptr) return 20;
  const int port = std::atoi(master_text);
  const int plain = bind_any(port, /*reuse_address=*/false, /*listening=*/false);
  if (plain >= 0) {
    std::printf("MASTER_PORT %d is not reserved: a plain bind took it\n", port);
    return 21;
  }
  // What torch.distributed's TCPStore does in rank 0: SO_REUSEADDR, bind, listen.
  const int store = bind_any(port, /*reuse_address=*/true, /*listening=*/true);
  if (store < 0) {
    std::printf("torch's store could not listen on MASTER_PORT %d: %s\n", port,
                std::strerror(errno));
    return 22;
  }
  ::close(store);
  std::printf("master port ok\n");
  return 0;
}

}  // namespace

// Own main instead of gtest_main: the binary doubles as the rank program of
// ListenSocketOnlyForRankZero and MasterPortIsHeldForTorchsStoreInRankZero.
int main(int argc, char** argv) {
  if (argc == 2 && argv[1] == kCheckListenMode) return check_listen_child();
  if (argc == 2 && argv[1] == kCheckMasterPortMode) return check_master_port_child();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
