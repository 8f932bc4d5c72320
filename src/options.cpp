// ringpipe: Options' values as text (the names of their enums) and the Options' consistency
// checks. Reading them from the environment is in options_env.cpp.
#include <ringpipe/error.hpp>
#include <ringpipe/log.hpp>
#include <ringpipe/options.hpp>

#include "options_parsing.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace ringpipe {
namespace detail {

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

[[noreturn]] void invalid(const std::string& message) {
  throw Error(Errc::InvalidArgument, message);
}

}  // namespace detail

using detail::invalid;
using detail::kMaxWorldSize;
using detail::lower;
using detail::quoted;

namespace {

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
  if (registered_min_bytes == 0 || single_copy_min_bytes == 0) {
    invalid(
        "registered_min_bytes and single_copy_min_bytes must be at least 1 (set single_copy "
        "false to turn single copy off)");
  }
  if (single_copy_max_bytes < single_copy_min_bytes) {
    invalid("single_copy_max_bytes (RINGPIPE_SINGLE_COPY_MAX_BYTES) " +
            std::to_string(single_copy_max_bytes) +
            " is below single_copy_min_bytes (RINGPIPE_SINGLE_COPY_MIN_BYTES) " +
            std::to_string(single_copy_min_bytes) + ": raise the one or lower the other");
  }
  if (listen_fd < -1) {
    invalid("listen_fd " + std::to_string(listen_fd) +
            " is invalid: must be a descriptor >= 0 or -1");
  }
}

}  // namespace ringpipe
