// ringpipe: diagnostics on standard error, one line each, prefixed with the rank.
#pragma once

#include <string_view>

namespace ringpipe::detail {

enum class LogLevel { Debug, Info, Warning, Error };

// Level from RINGPIPE_LOG (debug, info, warning, error; default warning).
void log(LogLevel level, std::string_view message);
// Rank to put in front of this process's log lines (-1 = none yet).
void set_log_rank(int rank);

}  // namespace ringpipe::detail
