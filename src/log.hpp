// ringpipe: diagnostics, one line each, with time, host, pid and rank (see ringpipe/log.hpp).
#pragma once

#include <ringpipe/log.hpp>

#include <string>
#include <string_view>

namespace ringpipe::detail {

using ringpipe::LogLevel;

// Where lines go and from which level, as the environment says.
struct LogConfig {
  LogLevel level = LogLevel::Warning;
  std::string file;  // "" = standard error; "%h"/"%p" already expanded
};

// Reads RINGPIPE_LOG_LEVEL / RINGPIPE_LOG and RINGPIPE_LOG_FILE (with the other variables, in
// options.cpp); throws Error{InvalidArgument} naming the variable for a value that is not a
// level, or a file that cannot be opened.
LogConfig log_config_from_env();
// NCCL_DEBUG_FILE's conventions: "%h" becomes the host name, "%p" the process id, "%%" a "%".
std::string expand_log_file_name(std::string_view pattern);
// Makes `config` this process's logging (the file is opened now, for appending).
void configure_logging(const LogConfig& config);

void log(LogLevel level, std::string_view message);
// Rank to put in this process's log lines (-1 = none yet).
void set_log_rank(int rank);

}  // namespace ringpipe::detail
