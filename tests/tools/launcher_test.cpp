// ringpipe-run tests: run the real launcher on small shell programs and check what ranks see.
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef RINGPIPE_RUN_PATH
#error "RINGPIPE_RUN_PATH must name the ringpipe-run executable"
#endif

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view kCheckListenMode = "--child-mode=check-listen";

struct LaunchResult {
  int exit_code = -1;  // Exit status, or 128 + signal number.
  bool timed_out = false;
  std::string out;
  std::string err;
  double elapsed_s = 0;
};

struct LaunchOptions {
  std::vector<std::pair<std::string, std::string>> set_env;
  std::chrono::milliseconds deadline = 20s;
  // Called after each read with the launcher's pid and its stdout so far, so a test can act
  // (e.g. signal the launcher) once the ranks report that they are ready.
  std::function<void(pid_t, const std::string&)> on_output;
};

std::vector<std::string> child_environment(const LaunchOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    const std::string_view name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [key, value] : options.set_env) replaced |= name == key;
    if (!replaced) env.emplace_back(text);
  }
  for (const auto& [key, value] : options.set_env) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> as_argv(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs ringpipe-run with args; never blocks past options.deadline (the launcher is then
// SIGKILLed and timed_out is set).
LaunchResult launch(const std::vector<std::string>& args, const LaunchOptions& options = {}) {
  std::vector<std::string> argv_strings{RINGPIPE_RUN_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv = as_argv(argv_strings);
  std::vector<std::string> env_strings = child_environment(options);
  std::vector<char*> envp = as_argv(env_strings);

  LaunchResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(126);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }

  std::vector<std::pair<int, std::string*>> streams{{out_pipe[0], &result.out},
                                                    {err_pipe[0], &result.err}};
  bool reaped = false;
  int status = 0;
  const auto deadline = start + options.deadline;
  while (!reaped || !streams.empty()) {
    const auto now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    std::vector<pollfd> fds;
    for (const auto& stream : streams) fds.push_back({stream.first, POLLIN, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        streams[i].second->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        streams.erase(streams.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (options.on_output) options.on_output(pid, result.out);
    if (!reaped) reaped = ::waitpid(pid, &status, WNOHANG) == pid;
  }
  for (const auto& stream : streams) ::close(stream.first);

  if (!reaped) {
    ::kill(pid, SIGKILL);
    // SIGKILL cannot be ignored, so this wait is short; it is still bounded.
    for (int i = 0; i < 500 && !reaped; ++i) {
      reaped = ::waitpid(pid, &status, WNOHANG) == pid;
      if (!reaped) std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "ringpipe-run did not exit in time; stdout:\n"
                  << result.out << "\nstderr:\n"
                  << result.err;
  }
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (reaped) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return result;
}

// Runs `sh -c script` under ringpipe-run with launcher_args before it.
LaunchResult launch_sh(std::vector<std::string> launcher_args, const std::string& script,
                       const LaunchOptions& options = {}) {
  launcher_args.insert(launcher_args.end(), {"/bin/sh", "-c", script});
  return launch(launcher_args, options);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// "[3] key=value key=value" lines per rank, from ranks that print one such line each.
std::map<int, std::map<std::string, std::string>> parse_rank_fields(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> ranks;
  for (const std::string& line : lines_of(out)) {
    if (line.size() < 3 || line[0] != '[') continue;
    const auto close = line.find("] ");
    if (close == std::string::npos) continue;
    auto& fields = ranks[std::stoi(line.substr(1, close - 1))];
    std::istringstream words(line.substr(close + 2));
    for (std::string word; words >> word;) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return ranks;
}

std::string self_exe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
}

// True once pid no longer exists (or is a zombie waiting for a reaper outside our control).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = content.rfind(')');
  return paren != std::string::npos && paren + 2 < content.size() && content[paren + 2] == 'Z';
}

bool eventually_gone(pid_t pid) {
  const auto deadline = Clock::now() + 3s;
  while (Clock::now() < deadline) {
    if (process_gone(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

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
    EXPECT_EQ(fields.at("torch_rank"), "unset");
    EXPECT_EQ(fields.at("master"), "unset");
    EXPECT_EQ(fields.at("ompi"), "unset");
    EXPECT_EQ(fields.at("slurm"), "unset");
    EXPECT_EQ(fields.at("keep"), "yes");
    if (rank != 0) {
      EXPECT_EQ(fields.at("listen"), "unset");
    }
  }
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

}  // namespace

// Own main instead of gtest_main: the binary doubles as the rank program of
// ListenSocketOnlyForRankZero.
int main(int argc, char** argv) {
  if (argc == 2 && argv[1] == kCheckListenMode) return check_listen_child();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
