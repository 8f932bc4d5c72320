// Test helpers of the rendezvous tests with real rank processes.
#include "rendezvous_clients.hpp"

#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "rendezvous/auth.hpp"
#include "ringpipe_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace ringpipe::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

std::optional<Ring> join_and_report() {
  print_line("HEAD " + env_or("RINGPIPE_HEAD", "?") + ":" + env_or("RINGPIPE_PORT", "?"));
  try {
    Ring ring(Options::from_env());
    print_line("OUTCOME OK");
    return std::optional<Ring>(std::move(ring));
  } catch (const Error& error) {
    print_line("OUTCOME " + std::string(to_string(error.code())) + " " + error.what());
  } catch (const std::exception& error) {
    print_line(std::string("OUTCOME NotARingpipeError ") + error.what());
  }
  return std::nullopt;
}

void verify_one_round(Ring& ring) {
  constexpr std::size_t kSize = 10000;
  const int n = ring.world_size();
  const int r = ring.rank();
  std::vector<std::uint8_t> out(kSize), in(kSize + 8);
  fill_pattern(out.data(), kSize, 1000 + static_cast<std::uint64_t>(r));
  Request receive = ring.pred().irecv(in.data(), in.size(), 3);
  ring.succ().send(out.data(), kSize, 3, 10s);
  receive.wait(10s);
  ASSERT_EQ(receive.bytes(), kSize);
  const std::size_t wrong =
      count_wrong(in.data(), kSize, 1000 + static_cast<std::uint64_t>((r - 1 + n) % n));
  ASSERT_EQ(wrong, 0u) << "rank " << r << ": corrupted message from its predecessor";
  print_line("ROUND verified");
}

std::string line_after(const std::string& output, const std::string& tag) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(tag, 0) == 0) return line.substr(tag.size());
  }
  return {};
}

Outcome outcome_of(const RankResult& result) {
  const std::string rest = line_after(result.output, "OUTCOME ");
  if (rest.empty()) return {"none", ""};
  const std::size_t space = rest.find(' ');
  if (space == std::string::npos) return {rest, ""};
  return {rest.substr(0, space), rest.substr(space + 1)};
}

std::string describe(const RankResult& result) {
  std::ostringstream text;
  text << "rank " << result.rank << ": exit code " << result.exit_code << ", signal "
       << result.signal << (result.timed_out ? ", killed after the spawn timeout" : "") << ", "
       << result.seconds << " s; output:\n"
       << result.output;
  return text.str();
}

::testing::AssertionResult Reported(const RankResult& result, std::string_view code,
                                    std::initializer_list<std::string> parts) {
  const Outcome outcome = outcome_of(result);
  if (result.timed_out || result.exit_code != 0) {
    return ::testing::AssertionFailure() << "did not exit cleanly; " << describe(result);
  }
  if (outcome.code != code) {
    return ::testing::AssertionFailure()
           << "reported " << outcome.code << " instead of " << code << "; " << describe(result);
  }
  if (code != "OK" && outcome.what.rfind(std::string(code) + ": ", 0) != 0) {
    return ::testing::AssertionFailure()
           << "what() does not start with \"" << code << ": \"; " << describe(result);
  }
  for (const std::string& part : parts) {
    if (outcome.what.find(part) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "the message does not mention \"" << part << "\"; " << describe(result);
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult JoinedAndVerifiedARound(const RankResult& result) {
  ::testing::AssertionResult joined = Reported(result, "OK", {});
  if (!joined) return joined;
  if (result.output.find("ROUND verified") == std::string::npos) {
    return ::testing::AssertionFailure() << "no verified message round; " << describe(result);
  }
  return ::testing::AssertionSuccess();
}

namespace {

// Seconds from spawn to the OUTCOME line, or to the exit when there is none.
double outcome_seconds(const RankResult& result) {
  std::istringstream lines(result.output);
  std::string line;
  for (std::size_t index = 0; std::getline(lines, line) && index < result.line_seconds.size();
       ++index) {
    if (line.rfind("OUTCOME ", 0) == 0) return result.line_seconds[index];
  }
  return result.seconds;
}

}  // namespace

::testing::AssertionResult FinishedWithin(const RankResult& result, double min_s, double max_s) {
  const double seconds = outcome_seconds(result);
  if (seconds >= min_s && seconds < max_s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "reported its outcome after " << seconds << " s, expected [" << min_s << ", " << max_s
         << ") s; " << describe(result);
}

::testing::AssertionResult WaitingRankTimedOutNaming(const RankResult& result,
                                                     const std::string& missing) {
  return Reported(result, "Timeout", {missing});
}

int connect_raw(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return -1;
  while (Clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

bool send_raw(int fd, const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

Bytes recv_raw(int fd, std::size_t size, std::chrono::milliseconds timeout) {
  Bytes bytes;
  const auto deadline = Clock::now() + timeout;
  while (bytes.size() < size) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd entry{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) break;
    std::byte chunk[4096];
    const ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, size - bytes.size()), 0);
    if (n <= 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  return bytes;
}

bool closed_by_peer_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) continue;
    std::byte chunk[256];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return true;
    }
  }
  return false;
}

Bytes raw_header(std::uint32_t magic, std::uint16_t version, std::uint16_t type,
                 std::uint32_t size) {
  Bytes out;
  const auto put = [&out](std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
  };
  put(magic, 4);
  put(version, 2);
  put(type, 2);
  put(size, 4);
  return out;
}

rendezvous::Hello plausible_hello(std::uint32_t rank) {
  const Options options = Options::from_env();
  rendezvous::Hello hello;
  hello.library_version = RINGPIPE_VERSION;
  hello.world_size = static_cast<std::uint32_t>(options.world_size);
  hello.rank = rank;
  hello.job_id = options.job_id;
  hello.host = "impostor";
  hello.host_identity = "impostor/boot";
  hello.address = Bytes(64, std::byte{0x5a});
  return hello;
}

std::optional<RawFrame> read_frame_raw(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const auto left = [&] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                    std::chrono::milliseconds(0));
  };
  const Bytes header = recv_raw(fd, rendezvous::kHeaderSize, left());
  if (header.size() != rendezvous::kHeaderSize) return std::nullopt;
  try {
    const rendezvous::FrameHeader decoded = rendezvous::decode_header(header);
    RawFrame frame{decoded.type, recv_raw(fd, decoded.payload_size, left())};
    if (frame.payload.size() != decoded.payload_size) return std::nullopt;
    return frame;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<rendezvous::ErrorReply> read_error_reply(int fd) {
  const std::optional<RawFrame> frame = read_frame_raw(fd, 10s);
  if (!frame || frame->type != rendezvous::FrameType::Error) return std::nullopt;
  try {
    return rendezvous::decode_error(frame->payload);
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool authenticate_raw(int fd, std::uint64_t job_id, const std::string& token,
                      std::chrono::milliseconds timeout) {
  using namespace rendezvous;
  const std::optional<RawFrame> challenge_frame = read_frame_raw(fd, timeout);
  if (!challenge_frame || challenge_frame->type != FrameType::AuthChallenge) return false;
  try {
    const AuthChallenge challenge = decode_auth_challenge(challenge_frame->payload);
    AuthResponse response{job_id, !token.empty(), fresh_nonce(), {}};
    if (!token.empty() && challenge.head_has_token) {
      response.proof = rank_proof(token, challenge.head_nonce, response.rank_nonce, job_id);
    }
    if (!send_raw(fd, encode(response))) return false;
    const std::optional<RawFrame> answer = read_frame_raw(fd, timeout);
    if (!answer || answer->type != FrameType::AuthProof) return false;
    const AuthProof proof = decode_auth_proof(answer->payload);
    return token.empty() || same_proof(proof.proof, head_proof(token, challenge.head_nonce,
                                                               response.rank_nonce, job_id));
  } catch (const Error&) {
    return false;
  }
}

namespace {

// Server-side connections of `port` in state ESTABLISHED, those with unread data only if asked.
int count_connections(std::uint16_t port, bool with_pending_data) {
  std::ifstream table("/proc/net/tcp");
  if (!table) return -1;
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  std::string line;
  std::getline(table, line);  // column titles
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    const bool local_is_port = local.size() >= 5 && local.substr(local.size() - 5) == wanted;
    const std::size_t colon = queues.find(':');
    if (!local_is_port || state != "01" || colon == std::string::npos) continue;
    if (!with_pending_data || std::strtoul(queues.substr(colon + 1).c_str(), nullptr, 16) > 0) {
      ++count;
    }
  }
  return count;
}

}  // namespace

int connections_established(std::uint16_t port) { return count_connections(port, false); }

int connections_with_pending_data(std::uint16_t port) { return count_connections(port, true); }

}  // namespace ringpipe::test
