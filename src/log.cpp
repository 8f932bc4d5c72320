// ringpipe: diagnostics to standard error, a file, or the application's sink.
#include "log.hpp"

#include <ringpipe/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace ringpipe {
namespace detail {
namespace {

// Never destroyed: other threads (the liveness thread) may still log while the process exits.
struct Logger {
  std::mutex mutex;
  std::atomic<LogLevel> level{LogLevel::Warning};
  std::once_flag from_env;  // the environment's settings, unless configure_logging() came first
  std::string file_name;
  std::FILE* file = nullptr;  // nullptr: standard error
  LogSink sink;
};

Logger& logger() {
  static Logger* const instance = new Logger;
  return *instance;
}

std::atomic<int> g_rank{-1};

const std::string& host() {
  static const std::string name = [] {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return std::string("?");
    return std::string(buffer);
  }();
  return name;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "2026-12-05T21:58:01.123456Z"
std::string utc_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm parts{};
  ::gmtime_r(&now.tv_sec, &parts);
  char text[40];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(text + length, sizeof text - length, ".%06ldZ", now.tv_nsec / 1000);
  return text;
}

// Applies `config` with the logger's lock held.
void apply(Logger& state, const LogConfig& config) {
  state.level.store(config.level, std::memory_order_relaxed);
  if (config.file == state.file_name) return;
  if (state.file != nullptr) std::fclose(std::exchange(state.file, nullptr));
  state.file_name = config.file;
  if (config.file.empty()) return;
  state.file = std::fopen(config.file.c_str(), "ae");
  if (state.file != nullptr) std::setvbuf(state.file, nullptr, _IOLBF, 0);
}

Logger& configured_logger() {
  Logger& state = logger();
  std::call_once(state.from_env, [&state] {
    LogConfig config;
    try {
      config = log_config_from_env();
    } catch (const Error&) {
      // Reported where it can be: Options::from_env() and Ring construction throw it.
    }
    std::lock_guard lock(state.mutex);
    apply(state, config);
  });
  return state;
}

}  // namespace

std::string expand_log_file_name(std::string_view pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char next = pattern[++i];
    if (next == 'h') {
      out += host();
    } else if (next == 'p') {
      out += std::to_string(::getpid());
    } else {
      if (next != '%') out += '%';
      out += next;
    }
  }
  return out;
}

void configure_logging(const LogConfig& config) {
  Logger& state = logger();
  // The caller read the environment: the lazy reading is done (or waited for, then overridden).
  std::call_once(state.from_env, [] {});
  std::lock_guard lock(state.mutex);
  apply(state, config);
}

void set_log_rank(int rank) { g_rank.store(rank, std::memory_order_relaxed); }

void log(LogLevel level, std::string_view message) {
  Logger& state = configured_logger();
  if (level < state.level.load(std::memory_order_relaxed)) return;
  const int rank = g_rank.load(std::memory_order_relaxed);
  const std::string line = utc_now() + " " + host() + " pid " + std::to_string(::getpid()) +
                           " rank " + (rank >= 0 ? std::to_string(rank) : std::string("-")) +
                           " ringpipe " + upper(to_string(level)) + ": " + std::string(message);
  std::lock_guard lock(state.mutex);
  if (state.sink) {
    try {
      state.sink(level, line);
    } catch (...) {
      // A sink must not throw; a line is not worth failing the caller for.
    }
    return;
  }
  // One write per line keeps the lines of concurrent threads and ranks whole.
  std::fprintf(state.file != nullptr ? state.file : stderr, "%s\n", line.c_str());
}

}  // namespace detail

void set_log_sink(LogSink sink) {
  detail::Logger& state = detail::logger();
  std::lock_guard lock(state.mutex);
  state.sink = std::move(sink);
}

}  // namespace ringpipe
