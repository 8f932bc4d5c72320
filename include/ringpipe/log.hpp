// ringpipe: where ringpipe's own diagnostics go, and how much of them.
//
// By default lines at warning level and above go to standard error. RINGPIPE_LOG_LEVEL (or its
// older name RINGPIPE_LOG) sets the level, RINGPIPE_LOG_FILE a file instead of standard error
// ("%h" and "%p" in it become the host name and the process id, as NCCL_DEBUG_FILE's do); both
// are read when a Ring is made or Options::from_env() runs, which reject a bad value with
// Error{InvalidArgument} naming the variable. Every line reads
//   <UTC time> <host> pid <pid> rank <rank> ringpipe <LEVEL>: <message>
// with rank "-" before this process joined a ring.
#pragma once

#include <ringpipe/export.hpp>

#include <functional>
#include <string_view>

namespace ringpipe {

enum class LogLevel { Debug, Info, Warning, Error };

// "debug", "info", "warning", "error".
RINGPIPE_API std::string_view to_string(LogLevel level) noexcept;
// Those names in any case (and "warn"); anything else throws Error{InvalidArgument} naming
// `what` and the text.
RINGPIPE_API LogLevel parse_log_level(std::string_view text, std::string_view what);

// Receives every line ringpipe logs at or above the level, whole and without a newline,
// instead of standard error or the log file: a serving stack routes them into its own logger.
// Called from any of ringpipe's threads (the liveness thread too), one line at a time; it must
// not call into ringpipe nor throw. An empty function restores the default destination.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;
RINGPIPE_API void set_log_sink(LogSink sink);

}  // namespace ringpipe
