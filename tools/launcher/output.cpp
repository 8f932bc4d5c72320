// ringpipe-run: line-prefixed forwarding of rank output.
#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

namespace ringpipe_run {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void print_error(std::string_view message) {
  std::string line = "ringpipe-run: ";
  line += message;
  line += '\n';
  write_all(STDERR_FILENO, line);
}

RankStream::RankStream(int rank, int fd, int out_fd)
    : prefix_("[" + std::to_string(rank) + "] "), fd_(fd), out_fd_(out_fd) {
  // Nonblocking so that a spurious wakeup can never stall the whole poll loop on one rank.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

RankStream::~RankStream() { close(); }

RankStream::RankStream(RankStream&& other) noexcept
    : prefix_(std::move(other.prefix_)),
      fd_(std::exchange(other.fd_, -1)),
      out_fd_(other.out_fd_),
      pending_(std::move(other.pending_)),
      after_cut_(other.after_cut_) {}

void RankStream::on_readable() {
  if (fd_ < 0) return;
  char buffer[kMaxLineBytes];
  const ssize_t n = ::read(fd_, buffer, sizeof(buffer));
  if (n > 0) {
    emit(std::string_view(buffer, static_cast<std::size_t>(n)));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    close();
  }
}

void RankStream::close() {
  if (fd_ < 0) return;
  if (!pending_.empty()) {
    // Write failures are ignored: nobody is left to tell, and the ranks must still be reaped.
    write_all(out_fd_, prefix_ + pending_ + '\n');
    pending_.clear();
  }
  ::close(fd_);
  fd_ = -1;
}

void RankStream::emit(std::string_view bytes) {
  if (after_cut_ && bytes.front() == '\n') bytes.remove_prefix(1);
  after_cut_ = false;
  pending_.append(bytes);
  std::string out;
  std::size_t start = 0;
  while (start < pending_.size()) {
    const std::size_t newline = pending_.find('\n', start);
    std::size_t length;
    if (newline != std::string::npos && newline - start < kMaxLineBytes) {
      length = newline - start;
    } else if (pending_.size() - start >= kMaxLineBytes) {
      length = kMaxLineBytes;
    } else {
      break;  // An unfinished line: wait for the rest.
    }
    out += prefix_;
    out.append(pending_, start, length);
    out += '\n';
    start += length;
    if (start == pending_.size()) {
      after_cut_ = length == kMaxLineBytes;
    } else if (pending_[start] == '\n') {
      ++start;
    }
  }
  pending_.erase(0, start);
  if (!out.empty()) write_all(out_fd_, out);
}

}  // namespace ringpipe_run
