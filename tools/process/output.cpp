// Reading what children write into pipes, never blocking past a deadline.
#include "output.hpp"

#include <poll.h>
#include <unistd.h>

#include <vector>

namespace ringpipe::process {

void wait_readable(std::span<const int> fds, std::chrono::milliseconds timeout) {
  std::vector<pollfd> entries;
  for (const int fd : fds) {
    if (fd >= 0) entries.push_back({fd, POLLIN, 0});
  }
  ::poll(entries.data(), entries.size(), static_cast<int>(timeout.count()));
}

ReadResult read_within(int fd, std::chrono::milliseconds timeout, std::string& text) {
  pollfd entry{fd, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return ReadResult::Nothing;
  char chunk[4096];
  const ssize_t n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return ReadResult::Closed;
  text.append(chunk, static_cast<std::size_t>(n));
  return ReadResult::Data;
}

bool drain(int fd, std::string& text) {
  while (true) {
    switch (read_within(fd, std::chrono::milliseconds(0), text)) {
      case ReadResult::Data:
        break;
      case ReadResult::Nothing:
        return true;
      case ReadResult::Closed:
        return false;
    }
  }
}

}  // namespace ringpipe::process
