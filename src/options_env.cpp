// ringpipe: Options read from the environment: the variables of launchers (torchrun, mpirun,
// srun) and ringpipe's own, each malformed one rejected with its name and value.
#include <ringpipe/error.hpp>
#include <ringpipe/options.hpp>

#include "deadline.hpp"
#include "log.hpp"
#include "options_env.hpp"
#include "options_parsing.hpp"

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

using detail::invalid;
using detail::kMaxWorldSize;
using detail::lower;
using detail::quoted;

namespace {

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

// A byte count: digits with an optional binary suffix K, M or G ("64K" is 65536); at least 1.
std::size_t parse_bytes(const EnvValue& env) {
  constexpr std::string_view kExpected =
      "a byte count >= 1, optionally with K, M or G (1024-based)";
  std::string_view text = env.value;
  unsigned shift = 0;
  if (!text.empty()) {
    const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
    shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0;
    if (shift != 0) text.remove_suffix(1);
  }
  const auto value = parse_u64(text, 10);
  if (!value || *value == 0 || *value > (std::uint64_t{1} << 46 >> shift)) env.fail(kExpected);
  return static_cast<std::size_t>(*value << shift);
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

}  // namespace

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
  if (auto env = first_set({"RINGPIPE_SINGLE_COPY"})) options.single_copy = parse_flag(*env);
  if (auto env = first_set({"RINGPIPE_REGISTERED_MIN_BYTES"})) {
    options.registered_min_bytes = parse_bytes(*env);
  }
  if (auto env = first_set({"RINGPIPE_SINGLE_COPY_MIN_BYTES"})) {
    options.single_copy_min_bytes = parse_bytes(*env);
  }
  if (auto env = first_set({"RINGPIPE_SINGLE_COPY_MAX_BYTES"})) {
    options.single_copy_max_bytes = parse_bytes(*env);
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

}  // namespace ringpipe
