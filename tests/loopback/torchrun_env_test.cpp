// Ranks started the way torchrun starts them: only torch's variables, and MASTER_PORT already
// taken by torchrun's own store. The ring forms on MASTER_PORT + 1, or rank 0 says plainly why
// it cannot.
#include <ringpipe/error.hpp>
#include <ringpipe/ring.hpp>

#include "multiproc.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace ringpipe {
namespace {

using test::count_wrong;
using test::fill_pattern;

constexpr int kWorldSize = 2;
// Ports the kernel hands out are random; a free neighbour port is found within a few tries.
constexpr int kPortPairTries = 64;

// Owns a socket descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Binds `address`:`port` (0 = any free port), listening or only bound; -1 if that failed.
int bind_tcp(in_addr_t address, std::uint16_t port, bool listening, bool reuse_address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  if (reuse_address) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address);
  sa.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      (listening && ::listen(fd, SOMAXCONN) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t port_of(int fd) {
  sockaddr_in sa{};
  socklen_t length = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length) != 0) return 0;
  return ntohs(sa.sin_port);
}

// MASTER_PORT as torchrun leaves it: its agent's store listens there on every address. `next`
// holds MASTER_PORT + 1: listening (another job has it), or bound with SO_REUSEADDR but not
// listening, which keeps every other process and outgoing connection off the port while still
// letting rank 0 (which binds with SO_REUSEADDR too) listen there.
struct TorchrunPorts {
  Fd agent_store;
  Fd next;
  std::uint16_t master_port;
};

TorchrunPorts torchrun_ports(bool next_taken) {
  std::vector<Fd> unsuitable;  // kept open so that the kernel hands out another port
  for (int attempt = 0; attempt < kPortPairTries; ++attempt) {
    Fd store(bind_tcp(INADDR_ANY, 0, /*listening=*/true, /*reuse_address=*/true));
    if (store.get() < 0) throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    const std::uint16_t port = port_of(store.get());
    if (port != 0 && port < 65535) {
      Fd next(bind_tcp(INADDR_ANY, static_cast<std::uint16_t>(port + 1), next_taken,
                       /*reuse_address=*/true));
      if (next.get() >= 0) return TorchrunPorts{std::move(store), std::move(next), port};
    }
    unsuitable.push_back(std::move(store));
  }
  throw std::runtime_error("no port P with P + 1 free in " + std::to_string(kPortPairTries) +
                           " tries");
}

// Rank `rank`'s environment as torchrun 1.13 sets it on one node.
void torchrun_environment(int rank, std::uint16_t master_port,
                          std::map<std::string, std::string>& env) {
  env["MASTER_ADDR"] = "127.0.0.1";
  env["MASTER_PORT"] = std::to_string(master_port);
  env["RANK"] = std::to_string(rank);
  env["WORLD_SIZE"] = std::to_string(kWorldSize);
  env["LOCAL_RANK"] = std::to_string(rank);
  env["LOCAL_WORLD_SIZE"] = std::to_string(kWorldSize);
  env["GROUP_RANK"] = "0";
  env["GROUP_WORLD_SIZE"] = "1";
  env["ROLE_NAME"] = "default";
  env["ROLE_RANK"] = std::to_string(rank);
  env["ROLE_WORLD_SIZE"] = std::to_string(kWorldSize);
  env["TORCHELASTIC_RUN_ID"] = "none";
  env["TORCHELASTIC_RESTART_COUNT"] = "0";
  env["TORCHELASTIC_MAX_RESTARTS"] = "0";
  env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  env["NCCL_ASYNC_ERROR_HANDLING"] = "1";
  env["OMP_NUM_THREADS"] = "1";
}

// In a rank: drops every RINGPIPE_* variable the test fixture set, so that only torch's
// variables place the rank (the fixture's own marker stays: it identifies the rank process).
void drop_ringpipe_variables() {
  std::vector<std::string> names;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    if (name.rfind("RINGPIPE_", 0) == 0 && name != "RINGPIPE_TEST_RANK_PROCESS") {
      names.push_back(name);
    }
  }
  for (const std::string& name : names) ::unsetenv(name.c_str());
}

// In the test process only: a rank process runs the test body again from the start, and must
// take MASTER_PORT from its environment instead of binding ports of its own.
std::optional<TorchrunPorts> torchrun_ports_in_parent(bool next_taken) {
  if (test::is_rank_process()) return std::nullopt;
  return torchrun_ports(next_taken);
}

std::uint16_t master_port_in_rank() {
  const char* text = std::getenv("MASTER_PORT");
  return text == nullptr ? 0 : static_cast<std::uint16_t>(std::atoi(text));
}

TEST(TorchrunEnvironment, RingFormsOnMasterPortPlusOneWhileTorchrunsStoreHoldsMasterPort) {
  const auto ports = torchrun_ports_in_parent(/*next_taken=*/false);
  test::SpawnOptions spawn;
  spawn.timeout = std::chrono::seconds(60);
  spawn.customize = [&](int rank, auto& env) {
    torchrun_environment(rank, ports->master_port, env);
  };
  const auto results = test::spawn_ranks(
      kWorldSize,
      [](int rank) {
        drop_ringpipe_variables();
        const Options options = Options::from_env();
        ASSERT_EQ(options.rank, rank);
        ASSERT_EQ(options.world_size, kWorldSize);
        ASSERT_EQ(options.port, master_port_in_rank() + 1);
        ASSERT_EQ(options.listen_fd, -1) << "rank 0 must bind the port itself, as under torchrun";

        Ring ring(options);
        const int peer = 1 - rank;
        constexpr std::size_t kSize = 1 << 20;
        std::vector<std::uint8_t> out(kSize);
        std::vector<std::uint8_t> in(kSize);
        fill_pattern(out.data(), kSize, 100 + rank);
        if (rank == 0) {
          ring.succ().send(out.data(), kSize);
          ASSERT_EQ(ring.pred().recv(in.data(), kSize), kSize);
        } else {
          ASSERT_EQ(ring.pred().recv(in.data(), kSize), kSize);
          ring.succ().send(out.data(), kSize);
        }
        EXPECT_EQ(count_wrong(in.data(), kSize, 100 + peer), 0u);
      },
      spawn);
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kWorldSize));
  for (const auto& result : results) {
    EXPECT_EQ(result.exit_code, 0) << test::describe_failures(results);
  }
}

TEST(TorchrunEnvironment, RankZeroNamesATakenMasterPortPlusOneAndRingpipePort) {
  const auto ports = torchrun_ports_in_parent(/*next_taken=*/true);
  test::SpawnOptions spawn;
  spawn.timeout = std::chrono::seconds(30);
  spawn.ranks = {0};  // the failure is rank 0's alone, before any other rank matters
  spawn.customize = [&](int rank, auto& env) {
    torchrun_environment(rank, ports->master_port, env);
  };
  const auto results = test::spawn_ranks(
      kWorldSize,
      [](int) {
        drop_ringpipe_variables();
        const int taken = master_port_in_rank() + 1;
        const auto start = std::chrono::steady_clock::now();
        try {
          Ring ring(Options::from_env());
          ADD_FAILURE() << "rank 0 hosted the rendezvous on a port another socket listens on";
        } catch (const Error& error) {
          const std::chrono::duration<double> taken_s = std::chrono::steady_clock::now() - start;
          // Binding fails at once; waiting out the rendezvous timeout would be a bug.
          EXPECT_LT(taken_s.count(), 10.0);
          EXPECT_EQ(error.code(), Errc::InvalidArgument) << error.what();
          const std::string message = error.what();
          const std::string master = std::to_string(taken - 1);
          EXPECT_NE(message.find("127.0.0.1:" + std::to_string(taken)), std::string::npos)
              << message;
          EXPECT_NE(message.find("already in use"), std::string::npos) << message;
          EXPECT_NE(message.find("MASTER_PORT=" + master + " + 1"), std::string::npos) << message;
          EXPECT_NE(message.find("set RINGPIPE_PORT to a free port"), std::string::npos) << message;
        }
      },
      spawn);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].exit_code, 0) << test::describe_failures(results);
  EXPECT_LT(results[0].seconds, 20.0) << test::describe_failures(results);
}

}  // namespace
}  // namespace ringpipe
