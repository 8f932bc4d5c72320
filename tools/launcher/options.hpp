// ringpipe-run: command-line options of the launcher.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ringpipe_run {

inline constexpr int kMaxWorldSize = 1024;

struct Options {
  int world_size = 0;
  std::string comm_device = "cpu";
  std::chrono::milliseconds grace{5000};
  std::vector<std::string> program;  // The program followed by its own arguments.
};

enum class ParseStatus { Run, Help, Version, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::Error;
  Options options;
  std::string error;  // Names the problem when status is Error.
};

ParseResult parse_options(int argc, char** argv);

std::string usage();

}  // namespace ringpipe_run
