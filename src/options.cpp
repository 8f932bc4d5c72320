// ringpipe: Options, their environment variables and their consistency checks.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>
#include <ringpipe/request.hpp>

#include "deadline.hpp"
#include "log.hpp"
#include "options_env.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace ringpipe {
namespace {

// The rendezvous gives every rank a 16-bit slot in places; larger rings are a mistake.
constexpr int kMaxWorldSize = 65536;
// Longer than any sane deadline, short enough that milliseconds never overflow; "inf" exists
// for "forever".
constexpr double kMaxTimeoutSeconds = 1e6;
// The rendezvous takes MASTER_PORT + 1, which must still be a TCP port.
constexpr std::uint64_t kMaxMasterPort = 65534;
// Under mpirun no launcher variable names a port, so each rank derives the same one from Open
// MPI's job id: below Linux's ephemeral ports (32768 up), so no outgoing connection holds it.
constexpr std::uint32_t kJobPortBase = 20000;
constexpr std::uint32_t kJobPortCount = 32768 - kJobPortBase;
// IFNAMSIZ - 1: the kernel rejects longer interface names, so fail early with a clear message.
constexpr std::size_t kMaxIfnameLength = 15;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Values come from users and launchers; escape them so a stray quote or control character
// cannot make an error message misleading.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (std::isprint(u) == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// One environment variable that was found set.
struct EnvValue {
  std::string_view name;
  std::string value;

  [[nodiscard]] std::string assignment() const { return std::string(name) + "=" + quoted(value); }
  [[nodiscard]] std::string describe() const { return "environment variable " + assignment(); }
  [[noreturn]] void fail(std::string_view expected) const {
    throw Error(Errc::InvalidArgument, describe() + ": expected " + std::string(expected));
  }
};

// The first of `names` that is set (even to ""), in precedence order.
std::optional<EnvValue> first_set(std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    // Names are literals, so data() is NUL-terminated.
    if (const char* value = std::getenv(name.data()); value != nullptr) {
      return EnvValue{name, value};
    }
  }
  return std::nullopt;
}

// Digits only: from_chars on an unsigned type rejects signs, so "-0" and "+1" are errors too.
std::optional<std::uint64_t> parse_u64(std::string_view text, int base) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

int parse_int(const EnvValue& env, int min, int max) {
  const std::string expected =
      max == std::numeric_limits<int>::max()
          ? "an integer >= " + std::to_string(min)
          : "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  const auto value = parse_u64(env.value, 10);
  if (!value || *value < static_cast<std::uint64_t>(min) ||
      *value > static_cast<std::uint64_t>(max)) {
    env.fail(expected);
  }
  return static_cast<int>(*value);
}

// torch.distributed's own store listens on MASTER_PORT (torchrun's agent, then rank 0's
// init_process_group), so the ring takes the next port; every rank derives it alone.
std::uint16_t parse_master_port(const EnvValue& env) {
  const auto value = parse_u64(env.value, 10);
  if (!value || *value < 1 || *value > kMaxMasterPort) {
    env.fail("an integer in 1.." + std::to_string(kMaxMasterPort) +
             ": ringpipe's rendezvous uses MASTER_PORT + 1, as MASTER_PORT itself belongs to "
             "torch.distributed (set RINGPIPE_PORT to choose the port directly)");
  }
  return static_cast<std::uint16_t>(*value + 1);
}

std::uint64_t parse_job_id(const EnvValue& env) {
  constexpr std::string_view kExpected = "an unsigned 64-bit integer (decimal or 0x-prefixed hex)";
  std::string_view text = env.value;
  int base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  const auto value = parse_u64(text, base);
  if (!value) env.fail(kExpected);
  return *value;
}

std::chrono::milliseconds parse_seconds(const EnvValue& env) {
  constexpr std::string_view kExpected =
      "a number of seconds > 0 and <= 1e6 (fractions allowed), or \"inf\"";
  const std::string name = lower(env.value);
  if (name == "inf" || name == "infinite" || name == "infinity") return kInfinite;

  double seconds = 0;
  const char* end = env.value.data() + env.value.size();
  const auto [ptr, ec] = std::from_chars(env.value.data(), end, seconds);
  // !(x > 0) also catches NaN.
  if (env.value.empty() || ec != std::errc{} || ptr != end || !std::isfinite(seconds) ||
      !(seconds > 0) || seconds > kMaxTimeoutSeconds) {
    env.fail(kExpected);
  }
  // Round up so a tiny positive value never becomes a zero (invalid) timeout.
  return std::chrono::ceil<std::chrono::milliseconds>(std::chrono::duration<double>(seconds));
}

bool parse_flag(const EnvValue& env) {
  const std::string name = lower(env.value);
  if (name == "1" || name == "true" || name == "yes" || name == "on") return true;
  if (name == "0" || name == "false" || name == "no" || name == "off") return false;
  env.fail("1/true/yes/on or 0/false/no/off");
}

bool has_space(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) return true;
  }
  return false;
}

std::string parse_head(const EnvValue& env) {
  if (env.value.empty() || has_space(env.value)) env.fail("a host name or IP address");
  return env.value;
}

// NCCL_SOCKET_IFNAME's forms ("eth,ib", "^docker,lo", "=eth0"); which interfaces they select
// is decided at Ring start, on the host that runs the rank.
std::string parse_ifname(const EnvValue& env) {
  constexpr std::string_view kExpected =
      "interface names or prefixes of 1..15 characters without '/' or whitespace, separated by "
      "',', optionally after '^' (exclude) and/or '=' (exact names)";
  std::string_view list = env.value;
  if (!list.empty() && list.front() == '^') list.remove_prefix(1);
  if (!list.empty() && list.front() == '=') list.remove_prefix(1);
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view entry = list.substr(0, comma);
    if (entry.empty() || entry.size() > kMaxIfnameLength || has_space(entry) ||
        entry.find('/') != std::string_view::npos) {
      env.fail(kExpected);
    }
    if (comma == std::string_view::npos) return env.value;
    list.remove_prefix(comma + 1);
  }
}

// FNV-1a: spreads a job id's text evenly over the port range, the same way on every host.
std::uint32_t hash_text(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash;
}

// The rendezvous port of a job started by Open MPI's mpirun: the same on every rank, and
// different for jobs that run at the same time unless they are unlucky (rank 0 then names the
// port in use and RINGPIPE_PORT).
std::uint16_t port_from_job_id(const EnvValue& job) {
  return static_cast<std::uint16_t>(kJobPortBase + hash_text(job.value) % kJobPortCount);
}

[[noreturn]] void invalid(const std::string& message) {
  throw Error(Errc::InvalidArgument, message);
}

void check_timeout(std::string_view field, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) {
    invalid(std::string(field) + " " + std::to_string(timeout.count()) +
            " ms is invalid: must be > 0 (use kInfinite to wait forever)");
  }
}

}  // namespace

std::string_view to_string(CommDevice device) noexcept {
  switch (device) {
    case CommDevice::Cpu:
      return "cpu";
    case CommDevice::Gpu:
      return "gpu";
  }
  return "unknown";  // only reachable through a cast of an out-of-range integer
}

std::string_view to_string(ProgressMode mode) noexcept {
  switch (mode) {
    case ProgressMode::BusyPoll:
      return "busy";
    case ProgressMode::Blocking:
      return "blocking";
    case ProgressMode::Adaptive:
      return "adaptive";
  }
  return "unknown";  // only reachable through a cast of an out-of-range integer
}

std::string_view to_string(GpuTransport transport) noexcept {
  switch (transport) {
    case GpuTransport::Auto:
      return "auto";
    case GpuTransport::CudaIpc:
      return "ipc";
    case GpuTransport::Nccl:
      return "nccl";
    case GpuTransport::Ucx:
      return "ucx";
  }
  return "unknown";  // only reachable through a cast of an out-of-range integer
}

CommDevice parse_comm_device(std::string_view text, std::string_view what) {
  const std::string name = lower(text);
  if (name == "cpu") return CommDevice::Cpu;
  if (name == "gpu") return CommDevice::Gpu;
  invalid(std::string(what) + "=" + quoted(text) + ": expected one of \"cpu\", \"gpu\"");
}

ProgressMode parse_progress_mode(std::string_view text, std::string_view what) {
  const std::string name = lower(text);
  // Spellings other tools use for busy polling, so users need not remember ours.
  if (name == "busy" || name == "busy-poll" || name == "busy_poll" || name == "busypoll" ||
      name == "poll") {
    return ProgressMode::BusyPoll;
  }
  if (name == "blocking") return ProgressMode::Blocking;
  if (name == "adaptive") return ProgressMode::Adaptive;
  invalid(std::string(what) + "=" + quoted(text) +
          ": expected one of \"busy\", \"blocking\", \"adaptive\"");
}

GpuTransport parse_gpu_transport(std::string_view text, std::string_view what) {
  const std::string name = lower(text);
  if (name == "auto") return GpuTransport::Auto;
  if (name == "ipc" || name == "cuda_ipc" || name == "cuda-ipc") return GpuTransport::CudaIpc;
  if (name == "nccl") return GpuTransport::Nccl;
  if (name == "ucx") return GpuTransport::Ucx;
  invalid(std::string(what) + "=" + quoted(text) +
          ": expected one of \"auto\", \"ipc\", \"nccl\", \"ucx\"");
}

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
  }
  return "unknown";  // only reachable through a cast of an out-of-range integer
}

LogLevel parse_log_level(std::string_view text, std::string_view what) {
  const std::string name = lower(text);
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warning" || name == "warn") return LogLevel::Warning;
  if (name == "error") return LogLevel::Error;
  invalid(std::string(what) + "=" + quoted(text) +
          ": expected one of \"debug\", \"info\", \"warning\", \"error\" (any case)");
}

namespace detail {

LogConfig log_config_from_env() {
  LogConfig config;
  if (auto env = first_set({"RINGPIPE_LOG_LEVEL", "RINGPIPE_LOG"})) {
    config.level = parse_log_level(env->value, "environment variable " + std::string(env->name));
  }
  if (auto env = first_set({"RINGPIPE_LOG_FILE"})) {
    constexpr std::string_view kExpected =
        "a file name that can be opened for appending (%h and %p become the host name and the "
        "process id)";
    if (env->value.empty()) env->fail(kExpected);
    config.file = expand_log_file_name(env->value);
    std::FILE* probe = std::fopen(config.file.c_str(), "ae");
    if (probe == nullptr) env->fail(std::string(kExpected) + "; cannot open " + config.file);
    std::fclose(probe);
  }
  return config;
}

void read_tuning_from_env(Options& options) {
  if (auto env = first_set({"RINGPIPE_RENDEZVOUS_TIMEOUT_S"})) {
    options.rendezvous_timeout = parse_seconds(*env);
  }
  if (auto env = first_set({"RINGPIPE_OP_TIMEOUT_S"})) options.op_timeout = parse_seconds(*env);
  if (auto env = first_set({"RINGPIPE_LIVENESS_TIMEOUT_S"})) {
    options.liveness_timeout = parse_seconds(*env);
    if (options.liveness_timeout < kMinLivenessTimeout) {
      env->fail("a number of seconds of at least " +
                format_seconds(kMinLivenessTimeout.count() / 1e3) +
                " (the liveness thread cannot beat often enough for less), or \"inf\"");
    }
  }
  (void)log_config_from_env();  // a bad level or log file is named here, not ignored
  if (auto env = first_set({"RINGPIPE_PROGRESS"})) {
    options.progress =
        parse_progress_mode(env->value, "environment variable " + std::string(env->name));
  }
  if (auto env = first_set({"RINGPIPE_GPU_TRANSPORT"})) {
    options.gpu_transport =
        parse_gpu_transport(env->value, "environment variable " + std::string(env->name));
  }
  if (auto env = first_set({"RINGPIPE_REQUIRE_FAST_PATH"})) {
    options.require_fast_path = parse_flag(*env);
  }
  if (auto env = first_set({"RINGPIPE_GPU_COPY_KERNEL"})) {
    options.gpu_copy_kernel = parse_flag(*env);
  }
  if (auto env = first_set({"RINGPIPE_IFNAME"})) options.ifname = parse_ifname(*env);
  if (auto env = first_set({"RINGPIPE_JOB_ID"})) options.job_id = parse_job_id(*env);
  // Taken as it is: any bytes make a key, and a secret has no place in an error message.
  if (auto env = first_set({"RINGPIPE_TOKEN"})) options.token = env->value;
  if (auto env = first_set({"RINGPIPE_LISTEN_FD"})) {
    options.listen_fd = parse_int(*env, 0, std::numeric_limits<int>::max());
  }
}

}  // namespace detail

Options Options::from_env() {
  Options options;

  const auto head_env = first_set({"RINGPIPE_HEAD", "MASTER_ADDR"});
  if (head_env) options.head = parse_head(*head_env);
  // Open MPI's variables: only its launcher sets them, and it names no head or port.
  const bool under_mpirun = first_set({"OMPI_COMM_WORLD_SIZE"}).has_value();
  if (auto env = first_set({"RINGPIPE_PORT"})) {
    options.port = static_cast<std::uint16_t>(parse_int(*env, 0, 65535));
    options.port_origin = std::string(env->name) + "=" + env->value;
  } else if (auto master = first_set({"MASTER_PORT"})) {
    options.port = parse_master_port(*master);
    options.port_origin = std::string(master->name) + "=" + master->value + " + 1";
  } else if (auto job = first_set({"OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE"});
             job && under_mpirun) {
    options.port = port_from_job_id(*job);
    options.port_origin = "Open MPI's job id " + job->assignment();
  }
  // The default head is this host: right for one host only, and ranks elsewhere would wait for
  // a rendezvous that never comes, so say at once what is missing.
  if (auto nodes = first_set({"OMPI_MCA_orte_num_nodes"}); nodes && under_mpirun && !head_env) {
    if (parse_int(*nodes, 1, std::numeric_limits<int>::max()) > 1) {
      invalid(nodes->describe() +
              ": the job runs on several hosts, and neither RINGPIPE_HEAD nor "
              "MASTER_ADDR is set: set RINGPIPE_HEAD to the address of rank "
              "0's host on every rank (mpirun -x RINGPIPE_HEAD=...)");
    }
  }

  const auto world_env =
      first_set({"RINGPIPE_WORLD_SIZE", "WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"});
  if (world_env) options.world_size = parse_int(*world_env, 1, kMaxWorldSize);
  const auto rank_env =
      first_set({"RINGPIPE_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"});
  if (rank_env) options.rank = parse_int(*rank_env, 0, std::numeric_limits<int>::max());
  if (auto env = first_set(
          {"RINGPIPE_LOCAL_RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})) {
    options.local_rank = parse_int(*env, 0, std::numeric_limits<int>::max());
  }

  if (auto env = first_set({"RINGPIPE_COMM_DEVICE"})) {
    options.comm_device =
        parse_comm_device(env->value, "environment variable " + std::string(env->name));
  }
  detail::read_tuning_from_env(options);

  // validate() would report this too, but without the variables; a rank set while the world
  // size is left at its default is the usual launcher mistake, so say which variables to fix.
  if (rank_env && options.rank >= options.world_size) {
    const std::string world =
        world_env ? "the world size set by " + world_env->assignment()
                  : "the default world size 1 (none of RINGPIPE_WORLD_SIZE, WORLD_SIZE, "
                    "OMPI_COMM_WORLD_SIZE, SLURM_NTASKS is set)";
    invalid(rank_env->describe() + " is out of range for " + world + " (valid ranks: 0.." +
            std::to_string(options.world_size - 1) + ")");
  }

  options.validate();
  return options;
}

void Options::validate() const {
  if (world_size < 1 || world_size > kMaxWorldSize) {
    invalid("world size " + std::to_string(world_size) + " is invalid: must be in 1.." +
            std::to_string(kMaxWorldSize));
  }
  if (rank < 0 || rank >= world_size) {
    invalid("rank " + std::to_string(rank) + " is out of range for world size " +
            std::to_string(world_size) + " (valid: 0.." + std::to_string(world_size - 1) + ")");
  }
  if (local_rank < 0) {
    invalid("local rank " + std::to_string(local_rank) + " is invalid: must be >= 0");
  }
  if (head.empty()) invalid("head is empty: rank 0's host name or IP address is required");
  if (port == 0 && rank == 0 && world_size > 1 && listen_fd < 0) {
    invalid("rank 0 has rendezvous port 0 in a ring of " + std::to_string(world_size) +
            ": the other ranks cannot learn a port picked at random (give a port, or a listen "
            "fd from a launcher)");
  }
  if (port == 0 && rank != 0) {
    invalid("rank " + std::to_string(rank) +
            " has rendezvous port 0: only rank 0 may pick a port, the others need its number");
  }
  check_timeout("rendezvous_timeout", rendezvous_timeout);
  check_timeout("op_timeout", op_timeout);
  check_timeout("liveness_timeout", liveness_timeout);
  if (liveness_timeout < kMinLivenessTimeout) {
    invalid("liveness_timeout " + std::to_string(liveness_timeout.count()) +
            " ms is below the minimum of " + std::to_string(kMinLivenessTimeout.count()) +
            " ms: the liveness thread cannot beat often enough for less (kInfinite turns stall "
            "detection off)");
  }
  if (listen_fd < -1) {
    invalid("listen_fd " + std::to_string(listen_fd) +
            " is invalid: must be a descriptor >= 0 or -1");
  }
}

}  // namespace ringpipe
