// ringpipe: diagnostics on standard error.
#include "log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ringpipe::detail {
namespace {

std::atomic<int> g_rank{-1};

LogLevel threshold() {
  static const LogLevel level = [] {
    const char* text = std::getenv("RINGPIPE_LOG");
    const std::string_view value = text ? text : "";
    if (value == "debug") return LogLevel::Debug;
    if (value == "info") return LogLevel::Info;
    if (value == "error") return LogLevel::Error;
    return LogLevel::Warning;
  }();
  return level;
}

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "DEBUG";
    case LogLevel::Info:
      return "INFO";
    case LogLevel::Warning:
      return "WARNING";
    case LogLevel::Error:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void set_log_rank(int rank) { g_rank.store(rank, std::memory_order_relaxed); }

void log(LogLevel level, std::string_view message) {
  if (level < threshold()) return;
  const int rank = g_rank.load(std::memory_order_relaxed);
  // One fprintf per line keeps lines of concurrent threads and ranks whole.
  if (rank >= 0) {
    std::fprintf(stderr, "ringpipe %s rank %d: %.*s\n", name(level), rank,
                 static_cast<int>(message.size()), message.data());
  } else {
    std::fprintf(stderr, "ringpipe %s: %.*s\n", name(level), static_cast<int>(message.size()),
                 message.data());
  }
}

}  // namespace ringpipe::detail
