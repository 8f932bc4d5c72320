// Reading what children write into pipes, never blocking past a deadline.
#pragma once

#include <chrono>
#include <span>
#include <string>

namespace ringpipe::process {

enum class ReadResult {
  Data,     // something was appended
  Nothing,  // the wait ended first
  Closed,   // end of file (every writer is gone) or a read error
};

// Waits at most `timeout` until one of `fds` (-1 entries are skipped) is readable or hung up.
void wait_readable(std::span<const int> fds, std::chrono::milliseconds timeout);

// Appends to `text` one read of what `fd` holds, waiting at most `timeout` for it.
ReadResult read_within(int fd, std::chrono::milliseconds timeout, std::string& text);

// Appends to `text` everything `fd` holds now, without waiting; false once it is closed.
bool drain(int fd, std::string& text);

}  // namespace ringpipe::process
